environment = "production"
name        = "production-lambda-ingest"
bucket      = "S3/data-lake-prod"
role        = "IAM/admin-role"
tags = {
  Owner      = "data"
  CostCenter = "cc-200"
}
