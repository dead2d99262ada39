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

exempt := lib.exempt_addresses(cfg)

required := {key | some key in cfg.required}

environment := data.tfctl.stack.environment

# tagged[address] = [rc, tags] per taggable resource (its planned values
# have `tags`): its known tags, provider defaults first so its own win.
# Computed once per plan for both checks below, with as few operations
# per resource as possible (this loop sees nearly every change).
tagged := {rc.address: [rc, tags] |
	some rc in written
	own := rc.change.after.tags
	tags := object.union_n([t |
		some t in [lib.default_tags(index, rc), object.get(rc.change.after, "tags_all", null), own]
		is_object(t)
	])
}

# unknown_keys(rc): tag keys whose values are only known after apply; they
# count as present. Only looked at when a known tag is missing.
unknown_keys(rc) := {key |
	some attr in ["tags", "tags_all"]
	unknown := object.get(rc.change.after_unknown, attr, null)
	is_object(unknown)
	some key, value in unknown
	value == true
}

findings contains msg if {
	some address, [rc, tags] in tagged
	known_missing := required - object.keys(tags)
	known_missing != set()
	missing := known_missing - unknown_keys(rc)
	missing != set()
	not address in exempt
	msg := sprintf("%s: missing required tags %s", [address, concat(", ", sort(missing))])
}

findings contains msg if {
	key := cfg.environment_tag
	key != ""
	some address, [_, tags] in tagged
	value := tags[key]
	is_string(value)
	value != environment
	not address in exempt
	msg := sprintf("%s: tag %s is \"%s\" but the stack's environment is \"%s\"", [address, key, value, environment])
}

deny contains msg if {
	cfg.enforcement == "deny"
	some msg in findings
}

warn contains msg if {
	cfg.enforcement == "warn"
	some msg in findings
}
