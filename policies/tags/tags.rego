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

taggable(rc) if {
	lib.writes(rc)
	_ = rc.change.after.tags
}

unknown_keys(rc, attr) := {k | some k, v in lib.as_object(object.get(rc.change.after_unknown, attr, {})); v == true}

# effective(rc): known tag values, provider defaults first so the
# resource's own tags win.
effective(rc) := object.union_n([
	lib.default_tags(rc),
	lib.as_object(lib.after(rc, "tags_all", {})),
	lib.as_object(lib.after(rc, "tags", {})),
])

tag_keys(rc) := (object.keys(effective(rc)) | unknown_keys(rc, "tags")) | unknown_keys(rc, "tags_all")

findings contains msg if {
	some rc in input.resource_changes
	taggable(rc)
	not lib.exempt(cfg, rc)
	keys := tag_keys(rc)
	missing := {k | some k in cfg.required; not k in keys}
	count(missing) > 0
	msg := sprintf("%s: missing required tags %s", [rc.address, concat(", ", sort(missing))])
}

findings contains msg if {
	some rc in input.resource_changes
	taggable(rc)
	not lib.exempt(cfg, rc)
	key := cfg.environment_tag
	key != ""
	value := effective(rc)[key]
	is_string(value)
	value != lib.environment
	msg := sprintf("%s: tag %s is \"%s\" but the stack's environment is \"%s\"", [rc.address, key, value, lib.environment])
}

deny contains msg if {
	cfg.enforcement == "deny"
	some msg in findings
}

warn contains msg if {
	cfg.enforcement == "warn"
	some msg in findings
}
