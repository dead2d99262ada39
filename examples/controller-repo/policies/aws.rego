# Guardrails for the controller's AWS root modules, checked on every plan.
# Input: `terraform show -json` of one stack's plan; data.tfctl: the stack.
package main

import rego.v1

# Resources the plan creates or updates, with their planned values.
changed contains rc if {
	some rc in input.resource_changes
	some action in rc.change.actions
	action in {"create", "update"}
}

deny contains msg if {
	some rc in changed
	rc.type == "aws_kms_key"
	not rc.change.after.enable_key_rotation
	msg := sprintf("%s: KMS keys must rotate (enable_key_rotation = true)", [rc.address])
}

# Any of the four public-access switches left off.
deny contains msg if {
	some rc in changed
	rc.type == "aws_s3_bucket_public_access_block"
	some setting in ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]
	not rc.change.after[setting]
	msg := sprintf("%s: %s must be true", [rc.address, setting])
}

deny contains msg if {
	some rc in changed
	rc.type in {"aws_s3_bucket", "aws_s3_bucket_acl", "aws_s3_object", "aws_s3_bucket_object"}
	acl := rc.change.after.acl
	startswith(acl, "public-")
	msg := sprintf("%s: public ACL %q", [rc.address, acl])
}

# A bucket is created only together with its encryption and public access block.
deny contains msg if {
	some rc in changed
	rc.type == "aws_s3_bucket"
	"create" in rc.change.actions
	some companion in ["aws_s3_bucket_public_access_block", "aws_s3_bucket_server_side_encryption_configuration"]
	not creates_type(companion)
	not inline_encryption(rc, companion)
	msg := sprintf("%s: a new bucket needs an %s", [rc.address, companion])
}

creates_type(type) if {
	some rc in changed
	rc.type == type
}

# Provider v3 and older configured encryption inside the bucket itself.
inline_encryption(rc, "aws_s3_bucket_server_side_encryption_configuration") if {
	count(rc.change.after.server_side_encryption_configuration) > 0
}

warn contains msg if {
	some rc in changed
	rc.type == "aws_iam_role_policy_attachment"
	endswith(rc.change.after.policy_arn, ":policy/AdministratorAccess")
	msg := sprintf("%s: attaches AdministratorAccess in %s", [rc.address, data.tfctl.stack.environment])
}
