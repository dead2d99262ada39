# Naming: resource names follow `<environment>-<service>-<name>`.
#
# Every created or updated resource whose name attribute is known in the
# plan must match `pattern`. Placeholders {environment}, {service} and
# {stack} are filled from data.tfctl.stack, lowercased, with any character
# other than a-z, 0-9 and "-" turned into "-" (service "S3" → "s3"); without
# a tfctl context they match any lowercase word, so the shape is still
# checked under plain conftest. Sensitive names are never shown or checked.
#
# Settings (data.tfctl_policy.naming):
#   enforcement       "deny" (default), "warn" or "off"
#   pattern           regex with placeholders (default below)
#   convention        how the rule is described in messages
#   name_attributes   {resource type: attribute}; other types use "name"
#   exempt_types      resource types not checked (kms aliases are "alias/…")
#   exempt_addresses  resource addresses not checked
package terraform.naming

import data.terraform.lib

defaults := {
	"enforcement": "deny",
	"pattern": "^{environment}-{service}-[a-z0-9]+(-[a-z0-9]+)*$",
	"convention": "{environment}-{service}-<name>",
	"name_attributes": {
		"aws_s3_bucket": "bucket",
		"aws_lambda_function": "function_name",
		"aws_db_instance": "identifier",
		"aws_rds_cluster": "cluster_identifier",
		"aws_elasticache_cluster": "cluster_id",
		"aws_elasticsearch_domain": "domain_name",
		"aws_opensearch_domain": "domain_name",
	},
	"exempt_types": [
		"aws_kms_alias",
		"aws_iam_role_policy_attachment",
		"aws_ssm_parameter",
	],
	"exempt_addresses": [],
}

cfg := lib.settings("naming", defaults)

placeholder(value) := regex.replace(lower(value), `[^a-z0-9-]`, "-")

# context_word(key, fallback): data.tfctl.stack[key] as a name part, or
# fallback when tfctl gave no context.
context_word(key, _) := placeholder(data.tfctl.stack[key])

context_word(key, fallback) := fallback if not data.tfctl.stack[key]

fill(text, word) := replace(
	replace(
		replace(text, "{environment}", context_word("environment", word)),
		"{service}", context_word("service", word),
	),
	"{stack}", context_word("name", word),
)

# Per-plan facts shared by the library, copied into this package (see
# lib/terraform.rego for why).
by_type := data.terraform.lib.written_by_type

exempt := lib.exempt_addresses(cfg)

# The pattern and its description, filled in once per plan.
pattern := fill(cfg.pattern, "[a-z0-9]+")

convention := fill(cfg.convention, "<word>")

# Per resource type, then per change of that type. No function calls per
# change: lib.sensitive(rc, attr) and lib.exempt(cfg, rc) are written out.
findings contains msg if {
	some type, changes in by_type
	attr := object.get(cfg.name_attributes, type, "name")
	some rc in changes
	name := rc.change.after[attr]
	is_string(name)
	not regex.match(pattern, name)
	not rc.change.after_sensitive == true
	not rc.change.after_sensitive[attr] == true
	not rc.address in exempt
	msg := sprintf("%s: %s \"%s\" does not follow the naming convention %s", [rc.address, attr, name, convention])
}

deny contains msg if {
	cfg.enforcement == "deny"
	some msg in findings
}

warn contains msg if {
	cfg.enforcement == "warn"
	some msg in findings
}
