environment = "development"

bucket_name   = "acme-app-logs-dev"
kms_key_alias = "alias/aws/s3"
versioning    = false

tags = {
  owner       = "app-team"
  cost-center = "cc-2001"
}
