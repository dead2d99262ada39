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
# changes of its own resource types only (`by_type[type]`), reads planned
# values with object.get (what lib.after does, without a function call per
# change) and tests exemption with `not rc.address in exempt`.
by_type := data.terraform.lib.written_by_type

index := data.terraform.lib.index

s3_companions := data.terraform.lib.s3_companions

exempt := lib.exempt_addresses(cfg)

database_types := ["aws_db_instance", "aws_rds_cluster"]

block_device_attributes := ["root_block_device", "ebs_block_device"]

# An absent, null or empty server_side_encryption_configuration.
no_configuration := [null, []]

findings contains msg if {
	some rc in by_type.aws_s3_bucket
	object.get(rc.change.after, "server_side_encryption_configuration", null) in no_configuration
	not lib.has_s3_companion(s3_companions, rc, "aws_s3_bucket_server_side_encryption_configuration")
	not rc.address in exempt
	msg := sprintf("%s: S3 bucket has no server-side encryption configuration", [rc.address])
}

findings contains msg if {
	some rc in by_type.aws_kms_key
	object.get(rc.change.after, "customer_master_key_spec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
	object.get(rc.change.after, "key_spec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
	not rc.change.after_unknown.enable_key_rotation == true
	object.get(rc.change.after, "enable_key_rotation", false) != true
	not rc.address in exempt
	msg := sprintf("%s: KMS key rotation is not enabled (enable_key_rotation)", [rc.address])
}

findings contains msg if {
	some type in database_types
	some rc in by_type[type]
	not rc.change.after_unknown.storage_encrypted == true
	object.get(rc.change.after, "storage_encrypted", false) != true
	object.get(rc.change.after, "replicate_source_db", null) == null
	not rc.address in exempt
	msg := sprintf("%s: database storage is not encrypted (storage_encrypted)", [rc.address])
}

findings contains msg if {
	some rc in by_type.aws_ebs_volume
	not object.get(rc.change.after, "encrypted", false) == true
	not encrypted_by_reference(rc)
	not rc.address in exempt
	msg := sprintf("%s: EBS volume is not encrypted (set encrypted = true)", [rc.address])
}

findings contains msg if {
	some rc in by_type.aws_instance
	some attr in block_device_attributes
	some device in lib.as_array(object.get(rc.change.after, attr, []))
	device.encrypted == false
	not rc.address in exempt
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
