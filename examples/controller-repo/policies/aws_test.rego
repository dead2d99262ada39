# Unit tests of aws.rego (`tfctl policy test`).
package main

import rego.v1

plan(rcs) := {"resource_changes": rcs}

change(type, address, after) := {"type": type, "address": address, "change": {"actions": ["create"], "after": after}}

test_kms_without_rotation_is_denied if {
	deny["aws_kms_key.k: KMS keys must rotate (enable_key_rotation = true)"] with input as plan([change("aws_kms_key", "aws_kms_key.k", {"enable_key_rotation": false})])
}

test_kms_with_rotation_passes if {
	count(deny) == 0 with input as plan([change("aws_kms_key", "aws_kms_key.k", {"enable_key_rotation": true})])
}

test_public_access_block_needs_all_four if {
	after := {"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": false}
	deny["aws_s3_bucket_public_access_block.b: restrict_public_buckets must be true"] with input as plan([change("aws_s3_bucket_public_access_block", "aws_s3_bucket_public_access_block.b", after)])
}

test_bucket_alone_is_denied if {
	msgs := deny with input as plan([change("aws_s3_bucket", "aws_s3_bucket.b", {"bucket": "x"})])
	msgs["aws_s3_bucket.b: a new bucket needs an aws_s3_bucket_public_access_block"]
	msgs["aws_s3_bucket.b: a new bucket needs an aws_s3_bucket_server_side_encryption_configuration"]
}

test_bucket_with_companions_passes if {
	block := {"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true}
	count(deny) == 0 with input as plan([
		change("aws_s3_bucket", "aws_s3_bucket.b", {"bucket": "x"}),
		change("aws_s3_bucket_public_access_block", "aws_s3_bucket_public_access_block.b", block),
		change("aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_server_side_encryption_configuration.b", {}),
	])
}
