# One IAM role: who may assume it (AWS principals and/or services) and the
# managed policies attached to it.

variable "role_name" {
  description = "Name of the role."
  type        = string
}

variable "trusted_principal_arns" {
  description = "AWS principals (roles, accounts) allowed to assume the role."
  type        = list(string)
  default     = []
}

variable "trusted_services" {
  description = "AWS services allowed to assume the role (lambda.amazonaws.com, ...)."
  type        = list(string)
  default     = []
}

variable "managed_policy_arns" {
  description = "Managed policies attached to the role."
  type        = list(string)
  default     = []
}

variable "max_session_duration" {
  description = "Longest session, in seconds."
  type        = number
  default     = 3600
}

data "aws_iam_policy_document" "trust" {
  dynamic "statement" {
    for_each = length(var.trusted_principal_arns) > 0 ? [1] : []
    content {
      actions = ["sts:AssumeRole"]
      principals {
        type        = "AWS"
        identifiers = var.trusted_principal_arns
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.trusted_services) > 0 ? [1] : []
    content {
      actions = ["sts:AssumeRole"]
      principals {
        type        = "Service"
        identifiers = var.trusted_services
      }
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.role_name
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_duration

  lifecycle {
    precondition {
      condition     = length(var.trusted_principal_arns) + length(var.trusted_services) > 0
      error_message = "A role needs at least one trusted principal or service."
    }
  }
}

resource "aws_iam_role_policy_attachment" "this" {
  for_each = toset(var.managed_policy_arns)

  role       = aws_iam_role.this.name
  policy_arn = each.value
}

output "role_arn" {
  description = "ARN of the role."
  value       = aws_iam_role.this.arn
}
