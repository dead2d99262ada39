environment = "production"
name        = "production-kms-encryption-key"
rotation    = true
tags = {
  Owner      = "platform"
  CostCenter = "cc-100"
}
