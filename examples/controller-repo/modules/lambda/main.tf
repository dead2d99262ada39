# One Lambda function from a package in S3, running as a role of an IAM
# stack (looked up by name), with its log group and X-Ray tracing.

variable "function_name" {
  description = "Name of the function."
  type        = string
}

variable "role_name" {
  description = "Execution role, created by an IAM stack that this stack depends on."
  type        = string
}

variable "runtime" {
  description = "Lambda runtime, e.g. python3.12."
  type        = string
}

variable "handler" {
  description = "Entry point, e.g. app.handler."
  type        = string
}

variable "package_bucket" {
  description = "Bucket holding the deployment package."
  type        = string
}

variable "package_key" {
  description = "Key of the deployment package (.zip) in package_bucket."
  type        = string
}

variable "memory_size" {
  description = "Memory in MB."
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
  default     = 30
}

variable "environment_variables" {
  description = "Environment variables of the function (no secrets: they show in plans)."
  type        = map(string)
  default     = {}
}

variable "log_retention_days" {
  description = "Days the function's logs are kept."
  type        = number
  default     = 90
}

data "aws_iam_role" "exec" {
  name = var.role_name
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "this" {
  function_name = var.function_name
  role          = data.aws_iam_role.exec.arn
  runtime       = var.runtime
  handler       = var.handler
  s3_bucket     = var.package_bucket
  s3_key        = var.package_key
  memory_size   = var.memory_size
  timeout       = var.timeout

  dynamic "environment" {
    for_each = length(var.environment_variables) > 0 ? [1] : []
    content {
      variables = var.environment_variables
    }
  }

  tracing_config {
    mode = "Active"
  }

  # The log group exists (with its retention) before the function first logs.
  depends_on = [aws_cloudwatch_log_group.this]
}

output "function_arn" {
  description = "ARN of the function."
  value       = aws_lambda_function.this.arn
}
