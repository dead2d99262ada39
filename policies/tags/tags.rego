# Required tags: every taggable resource carries Owner, CostCenter and
# Environment.
#
# A resource is taggable when its planned values have a `tags` attribute.
# Its tags are the union of `tags`, `tags_all` (the AWS provider's merge of
# provider default_tags, when the plan shows it), tags whose values are
# unknown until apply, and the constant `default_tags` of the provider block
# it uses (from `configuration.provider_config`). The Environment tag, when
# known, must equal the stack's environment (data.tfctl.stack.environment).
#
# Settings (data.tfctl_policy.tags):
#   enforcement       "deny" (default), "warn" or "off"
#   required          tag keys every taggable resource must have
#   environment_tag   tag that must equal the stack environment ("" to skip)
#   exempt_types, exempt_addresses
package terraform.tags

import data.terraform.lib

defaults := {
	"enforcement": "deny",
	"required": ["Owner", "CostCenter", "Environment"],
	"environment_tag": "Environment",
	"exempt_types": [],
	"exempt_addresses": [],
}

cfg := lib.settings("tags", defaults)

# Per-plan facts shared by the library, copied into this package (see
# lib/terraform.rego for why).
written := data.terraform.lib.written

index := data.terraform.lib.index

environment := data.tfctl.stack.environment

# Per taggable resource (its planned values have `tags`): its known tags,
# provider defaults first so its own win, and every tag key it will have,
# including keys whose values are unknown until apply. Computed once per
# plan for both checks below, with few function calls per resource.
judged := {rc.address: {"type": rc.type, "tags": tags, "keys": keys} |
	some rc in written
	_ = rc.change.after.tags
	tags := object.union_n([t |
		some t in [lib.default_tags(index, rc), object.get(rc.change.after, "tags_all", null), rc.change.after.tags]
		is_object(t)
	])
	unknown := {k |
		some attr in ["tags", "tags_all"]
		u := object.get(rc.change.after_unknown, attr, null)
		is_object(u)
		some k, v in u
		v == true
	}
	keys := object.keys(tags) | unknown
}

findings contains msg if {
	some address, info in judged
	missing := {k | some k in cfg.required; not k in info.keys}
	count(missing) > 0
	not exempt(address, info)
	msg := sprintf("%s: missing required tags %s", [address, concat(", ", sort(missing))])
}

findings contains msg if {
	key := cfg.environment_tag
	key != ""
	some address, info in judged
	value := info.tags[key]
	is_string(value)
	value != environment
	not exempt(address, info)
	msg := sprintf("%s: tag %s is \"%s\" but the stack's environment is \"%s\"", [address, key, value, environment])
}

exempt(address, info) if info.type in cfg.exempt_types

exempt(address, _) if address in cfg.exempt_addresses

deny contains msg if {
	cfg.enforcement == "deny"
	some msg in findings
}

warn contains msg if {
	cfg.enforcement == "warn"
	some msg in findings
}
