environment = "production"
name        = "production-iam-admin-role"
actions     = ["s3:GetObject", "kms:Decrypt"]
tags = {
  Owner      = "platform"
  CostCenter = "cc-100"
}
