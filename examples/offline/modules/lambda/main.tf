# Offline stand-in for a Lambda function (terraform_data; no cloud).
terraform {
  backend "local" {}
}

resource "terraform_data" "function" {
  input = {
    kind   = "lambda_function"
    name   = var.name
    bucket = var.bucket
    role   = var.role
    tags   = merge(var.tags, { Environment = var.environment })
  }

  lifecycle {
    precondition {
      condition     = !var.fail_plan
      error_message = "fail_plan is set for ${var.name}"
    }
  }
}
