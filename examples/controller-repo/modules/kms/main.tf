# One customer-managed KMS key with yearly rotation, and its alias.

variable "alias" {
  description = "Alias of the key, `alias/...`; other stacks refer to the key by it."
  type        = string

  validation {
    condition     = startswith(var.alias, "alias/") && !startswith(var.alias, "alias/aws/")
    error_message = "alias must start with alias/ and not with the AWS-reserved alias/aws/."
  }
}

variable "description" {
  description = "What the key encrypts."
  type        = string
}

variable "deletion_window_in_days" {
  description = "Days a deleted key can still be recovered (7 to 30)."
  type        = number
  default     = 30
}

resource "aws_kms_key" "this" {
  description             = var.description
  enable_key_rotation     = true
  rotation_period_in_days = 365
  deletion_window_in_days = var.deletion_window_in_days
}

resource "aws_kms_alias" "this" {
  name          = var.alias
  target_key_id = aws_kms_key.this.key_id
}

output "key_arn" {
  description = "ARN of the key."
  value       = aws_kms_key.this.arn
}
