# Policies for the offline example's terraform_data stand-ins.
#
# Each module puts the would-be cloud resource's settings in
# `terraform_data.input` (kind, name, tags, ...); these rules read them from
# the plan exactly as `terraform show -json` prints it, and the stack's
# context from data.tfctl. The real AWS library is in the top-level policies/.
package main

import rego.v1

required_tags := {"Owner", "CostCenter", "Environment"}

stand_ins contains rc if {
	some rc in input.resource_changes
	rc.type == "terraform_data"
	not "delete" in rc.change.actions
}

deny contains msg if {
	some rc in stand_ins
	missing := required_tags - {k | some k, _ in rc.change.after.input.tags}
	count(missing) > 0
	msg := sprintf("%s: missing required tags %v", [rc.address, sort(missing)])
}

deny contains msg if {
	some rc in stand_ins
	rc.change.after.input.kind == "s3_bucket"
	rc.change.after.input.public
	msg := sprintf("%s: bucket %s must not be public", [rc.address, rc.change.after.input.name])
}

deny contains msg if {
	some rc in stand_ins
	rc.change.after.input.kind == "s3_bucket"
	not rc.change.after.input.encrypted
	msg := sprintf("%s: bucket %s must use server-side encryption", [rc.address, rc.change.after.input.name])
}

deny contains msg if {
	some rc in stand_ins
	rc.change.after.input.kind == "kms_key"
	not rc.change.after.input.rotation
	msg := sprintf("%s: key %s must rotate", [rc.address, rc.change.after.input.name])
}

warn contains msg if {
	some rc in stand_ins
	prefix := sprintf("%s-%s-", [data.tfctl.stack.environment, lower(data.tfctl.stack.service)])
	not startswith(rc.change.after.input.name, prefix)
	msg := sprintf("%s: name %s should start with %s", [rc.address, rc.change.after.input.name, prefix])
}
