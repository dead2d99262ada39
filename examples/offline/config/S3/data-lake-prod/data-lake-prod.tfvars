environment = "production"
depends_on  = ["IAM/admin-role"]
name        = "production-s3-data-lake-prod"
kms_key     = "KMS/encryption-key"
encrypted   = true
public      = false
policy_file = "data-lake-prod.json"
tags = {
  Owner      = "data"
  CostCenter = "cc-200"
}
