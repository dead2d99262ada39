# Encryption at rest: S3 server-side encryption, KMS key rotation,
# encrypted RDS storage and encrypted EBS volumes.
#
# - aws_s3_bucket: an inline server_side_encryption_configuration, or an
#   aws_s3_bucket_server_side_encryption_configuration for the bucket (same
#   module, pointing at it in the configuration, or naming it).
# - aws_kms_key: enable_key_rotation = true for symmetric keys (asymmetric
#   and HMAC keys cannot rotate).
# - aws_db_instance / aws_rds_cluster: storage_encrypted = true (read
#   replicas inherit their source's encryption and are skipped).
# - aws_ebs_volume: encrypted = true, set explicitly (left unset it follows
#   an account default the plan cannot show); aws_instance block devices
#   must not set encrypted = false.
# Values that stay unknown until apply are not judged.
#
# Settings (data.tfctl_policy.encryption):
#   enforcement       "deny" (default), "warn" or "off"
#   exempt_types, exempt_addresses
package terraform.encryption

import data.terraform.lib

defaults := {
	"enforcement": "deny",
	"exempt_types": [],
	"exempt_addresses": [],
}

cfg := lib.settings("encryption", defaults)

# Per-plan facts shared by the library, copied into this package (see
# lib/terraform.rego for why). Each rule below loops over the written
# changes of its own resource types only (`by_type[type]`).
by_type := data.terraform.lib.written_by_type

index := data.terraform.lib.index

s3_companions := data.terraform.lib.s3_companions

database_types := ["aws_db_instance", "aws_rds_cluster"]

findings contains msg if {
	some rc in by_type.aws_s3_bucket
	count(lib.as_array(lib.after(rc, "server_side_encryption_configuration", null))) == 0
	not lib.has_s3_companion(s3_companions, rc, "aws_s3_bucket_server_side_encryption_configuration")
	not lib.exempt(cfg, rc)
	msg := sprintf("%s: S3 bucket has no server-side encryption configuration", [rc.address])
}

findings contains msg if {
	some rc in by_type.aws_kms_key
	lib.after(rc, "customer_master_key_spec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
	lib.after(rc, "key_spec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
	not lib.unknown(rc, "enable_key_rotation")
	lib.after(rc, "enable_key_rotation", false) != true
	not lib.exempt(cfg, rc)
	msg := sprintf("%s: KMS key rotation is not enabled (enable_key_rotation)", [rc.address])
}

findings contains msg if {
	some type in database_types
	some rc in by_type[type]
	not lib.unknown(rc, "storage_encrypted")
	lib.after(rc, "storage_encrypted", false) != true
	lib.after(rc, "replicate_source_db", null) == null
	not lib.exempt(cfg, rc)
	msg := sprintf("%s: database storage is not encrypted (storage_encrypted)", [rc.address])
}

findings contains msg if {
	some rc in by_type.aws_ebs_volume
	not lib.after(rc, "encrypted", false) == true
	not encrypted_by_reference(rc)
	not lib.exempt(cfg, rc)
	msg := sprintf("%s: EBS volume is not encrypted (set encrypted = true)", [rc.address])
}

findings contains msg if {
	some rc in by_type.aws_instance
	some attr in ["root_block_device", "ebs_block_device"]
	some device in lib.as_array(lib.after(rc, attr, []))
	device.encrypted == false
	not lib.exempt(cfg, rc)
	msg := sprintf("%s: %s is not encrypted", [rc.address, attr])
}

# The value is unknown because the configuration computes it from
# something else; only an attribute left out entirely is a finding.
encrypted_by_reference(rc) if {
	lib.unknown(rc, "encrypted")
	_ = lib.config_of(index, rc).expressions.encrypted
}

deny contains msg if {
	cfg.enforcement == "deny"
	some msg in findings
}

warn contains msg if {
	cfg.enforcement == "warn"
	some msg in findings
}
