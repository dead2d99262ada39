environment = "production"
depends_on  = ["KMS/encryption-key"]

bucket_name   = "acme-data-lake-prod"
kms_key_alias = "alias/encryption-key"
# The bucket policy is the JSON document beside this file (a companion: editing
# it re-validates this stack); the module reads it through tfctl_stack_dir.
bucket_policy_file = "data-lake-prod.json"
versioning         = true

tags = {
  owner       = "data-platform"
  cost-center = "cc-1042"
}
