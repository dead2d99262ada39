environment = "production"
depends_on  = ["KMS/encryption-key"]

bucket_name   = "acme-data-lake-prod"
kms_key_alias = "alias/encryption-key"
# The bucket policy is the JSON document beside this file (a companion: editing
# it re-validates this stack), path relative to the config repo root.
bucket_policy_file = "S3/data-lake-prod/data-lake-prod.json"
versioning         = true

tags = {
  owner       = "data-platform"
  cost-center = "cc-1042"
}
