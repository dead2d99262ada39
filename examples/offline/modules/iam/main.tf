# Offline stand-in for an IAM role (terraform_data; no cloud).
terraform {
  backend "local" {}
}

resource "terraform_data" "role" {
  input = {
    kind    = "iam_role"
    name    = var.name
    actions = var.actions
    tags    = merge(var.tags, { Environment = var.environment })
  }

  lifecycle {
    precondition {
      condition     = !var.fail_plan
      error_message = "fail_plan is set for ${var.name}"
    }
  }
}

output "role_arn" {
  value = "arn:aws:iam::000000000000:role/${var.name}"
}
