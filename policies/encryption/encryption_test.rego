# Tests for terraform.encryption: S3 SSE (inline or companion resource),
# KMS rotation, RDS storage encryption and EBS encryption.
package terraform.encryption_test

import data.terraform.encryption

rc(type, name, actions, after, unknown) := {
	"address": sprintf("%s.%s", [type, name]), "mode": "managed", "type": type, "name": name,
	"change": {"actions": actions, "after": after, "after_unknown": unknown},
}

config(resources) := {"root_module": {"resources": resources}}

bucket := rc("aws_s3_bucket", "logs", ["create"], {"bucket": "dev-app-logs"}, {"server_side_encryption_configuration": true})

test_bucket_without_sse_is_denied if {
	encryption.deny == {"aws_s3_bucket.logs: S3 bucket has no server-side encryption configuration"} with input as {"resource_changes": [bucket]}
}

test_inline_sse_passes if {
	b := rc("aws_s3_bucket", "logs", ["create"], {"server_side_encryption_configuration": [{"rule": [{}]}]}, {})
	count(encryption.deny) == 0 with input as {"resource_changes": [b]}
}

test_companion_sse_by_reference_passes if {
	sse := rc("aws_s3_bucket_server_side_encryption_configuration", "logs", ["create"], {}, {"bucket": true})
	p := {
		"resource_changes": [bucket, sse],
		"configuration": config([
			{"address": "aws_s3_bucket.logs", "mode": "managed", "type": "aws_s3_bucket", "name": "logs", "expressions": {}},
			{"address": "aws_s3_bucket_server_side_encryption_configuration.logs", "mode": "managed", "type": "aws_s3_bucket_server_side_encryption_configuration", "name": "logs", "expressions": {"bucket": {"references": ["aws_s3_bucket.logs.id", "aws_s3_bucket.logs"]}}},
		]),
	}
	count(encryption.deny) == 0 with input as p
}

test_companion_sse_by_name_passes if {
	sse := rc("aws_s3_bucket_server_side_encryption_configuration", "logs", ["no-op"], {"bucket": "dev-app-logs"}, {})
	count(encryption.deny) == 0 with input as {"resource_changes": [bucket, sse]}
}

test_companion_for_another_bucket_does_not_count if {
	sse := rc("aws_s3_bucket_server_side_encryption_configuration", "other", ["create"], {"bucket": "dev-app-other"}, {})
	count(encryption.deny) == 1 with input as {"resource_changes": [bucket, sse]}
}

test_kms_rotation if {
	off := rc("aws_kms_key", "k", ["create"], {"enable_key_rotation": false, "customer_master_key_spec": "SYMMETRIC_DEFAULT"}, {})
	on := rc("aws_kms_key", "k", ["create"], {"enable_key_rotation": true}, {})
	asymmetric := rc("aws_kms_key", "k", ["create"], {"enable_key_rotation": false, "customer_master_key_spec": "RSA_2048"}, {})
	encryption.deny == {"aws_kms_key.k: KMS key rotation is not enabled (enable_key_rotation)"} with input as {"resource_changes": [off]}
	count(encryption.deny) == 0 with input as {"resource_changes": [on]}
	count(encryption.deny) == 0 with input as {"resource_changes": [asymmetric]}
}

test_rds_storage_encryption if {
	plain := rc("aws_db_instance", "db", ["create"], {"storage_encrypted": false, "replicate_source_db": null}, {})
	enc := rc("aws_rds_cluster", "db", ["update"], {"storage_encrypted": true}, {})
	replica := rc("aws_db_instance", "replica", ["create"], {"storage_encrypted": false, "replicate_source_db": "db"}, {})
	encryption.deny == {"aws_db_instance.db: database storage is not encrypted (storage_encrypted)"} with input as {"resource_changes": [plain, enc, replica]}
}

test_ebs_encryption if {
	unset := rc("aws_ebs_volume", "v", ["create"], {"size": 1}, {"encrypted": true})
	explicit := rc("aws_ebs_volume", "w", ["create"], {"encrypted": true}, {})
	computed := rc("aws_ebs_volume", "x", ["create"], {}, {"encrypted": true})
	p := {
		"resource_changes": [unset, explicit, computed],
		"configuration": config([
			{"address": "aws_ebs_volume.v", "mode": "managed", "type": "aws_ebs_volume", "name": "v", "expressions": {"size": {"constant_value": 1}}},
			{"address": "aws_ebs_volume.x", "mode": "managed", "type": "aws_ebs_volume", "name": "x", "expressions": {"encrypted": {"references": ["var.encrypt"]}}},
		]),
	}
	encryption.deny == {"aws_ebs_volume.v: EBS volume is not encrypted (set encrypted = true)"} with input as p
}

test_instance_block_device_explicitly_unencrypted if {
	i := rc("aws_instance", "web", ["create"], {"root_block_device": [{"encrypted": false}]}, {})
	encryption.deny == {"aws_instance.web: root_block_device is not encrypted"} with input as {"resource_changes": [i]}
}

test_warn_mode if {
	encryption.warn == {"aws_s3_bucket.logs: S3 bucket has no server-side encryption configuration"} with input as {"resource_changes": [bucket]} with data.tfctl_policy as {"encryption": {"enforcement": "warn"}}
	count(encryption.deny) == 0 with input as {"resource_changes": [bucket]} with data.tfctl_policy as {"encryption": {"enforcement": "warn"}}
}
