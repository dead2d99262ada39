environment = "production"
name        = "production-s3-logs-dev"
encrypted   = true
tags = {
  Owner      = "platform"
  CostCenter = "cc-100"
}
