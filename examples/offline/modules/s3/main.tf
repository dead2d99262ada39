# Offline stand-in for an S3 bucket: a terraform_data resource whose input
# has the shape the offline policies check. Runs with no cloud, no network.
terraform {
  backend "local" {}
}

locals {
  tags = merge(var.tags, { Environment = var.environment })
  # The companion file, read where the stack is (tfctl passes its directory).
  policy = var.policy_file == "" ? "" : file("${var.tfctl_stack_dir}/${var.policy_file}")
}

resource "terraform_data" "bucket" {
  input = {
    kind      = "s3_bucket"
    name      = var.name
    encrypted = var.encrypted
    public    = var.public
    kms_key   = var.kms_key
    policy    = local.policy
    tags      = local.tags
  }

  lifecycle {
    precondition {
      condition     = !var.fail_plan
      error_message = "fail_plan is set for ${var.name}"
    }
  }
}

output "bucket" {
  value = terraform_data.bucket.output.name
}
