# Offline stand-in for a KMS key (terraform_data; no cloud).
terraform {
  backend "local" {}
}

resource "terraform_data" "key" {
  input = {
    kind     = "kms_key"
    name     = var.name
    rotation = var.rotation
    tags     = merge(var.tags, { Environment = var.environment })
  }

  lifecycle {
    precondition {
      condition     = !var.fail_plan
      error_message = "fail_plan is set for ${var.name}"
    }
  }
}

output "key_id" {
  value = "key-${var.name}"
}
