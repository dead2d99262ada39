# Shared helpers for the tfctl policy library (package terraform.lib).
#
# Every policy reads the plan JSON exactly as `terraform show -json` prints
# it (`input.resource_changes`, `input.planned_values`, `input.configuration`)
# and the run context in `data.tfctl` ({stack: {id, service, name,
# environment}, changed_files, pr_author, environments}). Settings come from
# `data.tfctl_policy.<policy>`, merged over each policy's `defaults`, so a
# team tunes the library with a data document instead of editing Rego.
#
# This package declares no deny/warn rules; it is never a namespace to query.
# Helpers are functions over one resource change (not sets of changes) so a
# plan with tens of thousands of changes is walked once per rule.
package terraform.lib

# settings(name, defaults): the policy's defaults with
# data.tfctl_policy[name] merged over them (objects merge, lists replace).
settings(name, defaults) := object.union(defaults, data.tfctl_policy[name])

settings(name, defaults) := defaults if not data.tfctl_policy[name]

# writes(rc): the change leaves the resource with new values: a create, an
# update, or the create half of a replace. Data sources are never judged.
writes(rc) if {
	rc.mode == "managed"
	some action in rc.change.actions
	action in {"create", "update"}
	is_object(rc.change.after)
}

# written_changes(plan): every change that writes (see writes), with the
# test inline. Policies keep it in a rule of their own package
# (`written := lib.written_changes(input)`): regorus looks up a rule of
# another package far more slowly than one of its own, which matters when
# it happens once per resource change.
written_changes(plan) := [rc |
	some rc in object.get(plan, "resource_changes", [])
	rc.mode == "managed"
	is_object(rc.change.after)
	some action in rc.change.actions
	action in {"create", "update"}
]

# destroys(rc): the change deletes the resource, alone or as half of a replace.
destroys(rc) if {
	rc.mode == "managed"
	"delete" in rc.change.actions
}

# replaces(rc): delete and create in either order (create_before_destroy).
replaces(rc) if {
	"delete" in rc.change.actions
	"create" in rc.change.actions
}

# remains(rc): the resource exists after apply (created, updated, replaced
# or unchanged); companions that already exist still count.
remains(rc) if {
	rc.mode == "managed"
	not rc.change.actions == ["delete"]
}

# exempt(cfg, rc): the settings exempt this resource by type or address.
exempt(cfg, rc) if rc.type in cfg.exempt_types

exempt(cfg, rc) if rc.address in cfg.exempt_addresses

# after(rc, attr, fallback): the planned value of a top-level attribute,
# or fallback when it is absent (unknown until apply, or not in the schema).
after(rc, attr, fallback) := object.get(rc.change.after, attr, fallback)

# unknown(rc, attr): the attribute's value is only known after apply.
unknown(rc, attr) if rc.change.after_unknown[attr] == true

# sensitive(rc, attr): the attribute is marked sensitive; its value must
# never reach a message.
sensitive(rc, attr) if rc.change.after_sensitive[attr] == true

sensitive(rc, _) if rc.change.after_sensitive == true

# as_object(x): x when it is an object, else {} (null tags, say).
as_object(x) := x if is_object(x)

as_object(x) := {} if not is_object(x)

# as_array(x): x when it is an array, [x] for a single value, [] for null.
as_array(x) := x if is_array(x)

as_array(x) := [x] if {
	not is_array(x)
	x != null
}

as_array(x) := [] if x == null

# plan_index(plan): lookups built once per plan (policies keep it in a
# rule of their own package, `index := lib.plan_index(input)`):
#   module_path_of  module address → path without instance keys
#   config          "<module path>|<mode>|<type>|<name>" → configuration block
#   default_tags    provider_config key → constant provider default_tags
#   bucket_refs     configuration key → "<type>.<name>" its `bucket` references
# Per-block facts are computed once per configuration block, not once per
# count/for_each instance.
plan_index(plan) := {
	"module_path_of": paths,
	"config": config,
	"default_tags": provider_default_tags(plan),
	"bucket_refs": {key: targets |
		some key, block in config
		targets := reference_targets(block, "bucket")
	},
} if {
	paths := {address: strip_keys(address) |
		some address in ({object.get(rc, "module_address", "") | some rc in object.get(plan, "resource_changes", [])} | {""})
	}
	config := config_blocks(plan, paths)
}

strip_keys(address) := address if not contains(address, "[")

strip_keys(address) := regex.replace(address, `\[[^\]]*\]`, "") if contains(address, "[")

config_blocks(plan, paths) := {key: resource |
	some m in {path | some path in paths}
	some resource in object.get(object.get(plan, "configuration", {}), array.concat(["root_module"], config_path(m)), [])
	key := concat("|", [m, object.get(resource, "mode", "managed"), resource.type, resource.name])
}

provider_default_tags(plan) := {key: tags |
	some key, block in object.get(object.get(plan, "configuration", {}), "provider_config", {})
	tags := block.expressions.default_tags[0].tags.constant_value
	is_object(tags)
}

# module_path(index, rc): the resource's module without instance keys
# ("module.a.module.b"), "" in the root module.
module_path(index, rc) := index.module_path_of[object.get(rc, "module_address", "")]

# config_path("module.a.module.b") = the path of b's resources in the
# configuration: module_calls.a.module.module_calls.b.module.resources.
config_path(m) := ["resources"] if m == ""

config_path(m) := path if {
	m != ""
	parts := split(m, ".")
	names := [name | some i, name in parts; i % 2 == 1]
	path := array.concat([seg | some name in names; some seg in ["module_calls", name, "module"]], ["resources"])
}

# config_key(index, rc): the key of the resource's configuration block.
config_key(index, rc) := concat("|", [index.module_path_of[object.get(rc, "module_address", "")], rc.mode, rc.type, rc.name])

# config_of(index, rc): the configuration block that declares the resource.
config_of(index, rc) := index.config[config_key(index, rc)]

config_address(rc) := sprintf("%s.%s", [rc.type, rc.name]) if rc.mode == "managed"

config_address(rc) := sprintf("data.%s.%s", [rc.type, rc.name]) if rc.mode == "data"

# references(index, rc, attr): the configuration's references for an attribute,
# reduced to "<type>.<name>" (instance keys and attribute paths dropped).
references(index, rc, attr) := reference_targets(config_of(index, rc), attr)

reference_targets(block, attr) := {target |
	some ref in block.expressions[attr].references
	parts := split(ref, ".")
	count(parts) >= 2
	target := concat(".", [parts[0], split(parts[1], "[")[0]])
}

# instance_key(rc): the count/for_each key as JSON ("null" without one).
instance_key(rc) := json.marshal(object.get(rc, "index", null))

# provider_local_name(rc): "aws" for registry.terraform.io/hashicorp/aws.
provider_local_name(rc) := name if {
	parts := split(rc.provider_name, "/")
	name := parts[count(parts) - 1]
}

# default_tags(index, rc): constant provider default_tags the resource
# inherits, from the provider block its configuration names (else its
# provider's default block); {} when no provider sets default_tags.
default_tags(index, rc) := object.get(index.default_tags, index.config[config_key(index, rc)].provider_config_key, {}) if {
	count(index.default_tags) > 0
} else := object.get(index.default_tags, provider_local_name(rc), {})

# s3_companion_keys(index, plan): keys of S3 companion resources (public
# access block, encryption configuration, ...) that will exist after apply,
# one per bucket they point at: "<type>|<module instance>|<bucket
# address>|<instance key>" from the configuration's references, and
# "<type>|name|<bucket name>" from a known planned bucket name. Policies keep
# it in a rule of their own package.
s3_companion_keys(index, plan) := by_reference | by_name if {
	companions := [rc |
		some rc in object.get(plan, "resource_changes", [])
		startswith(rc.type, "aws_s3_")
		remains(rc)
	]
	by_reference := {key |
		some rc in companions
		some target in object.get(index.bucket_refs, config_key(index, rc), set())
		key := concat("|", [rc.type, object.get(rc, "module_address", ""), target, instance_key(rc)])
	}
	by_name := {key |
		some rc in companions
		name := rc.change.after.bucket
		is_string(name)
		key := concat("|", [rc.type, "name", name])
	}
}

# has_s3_companion(keys, bucket, type): a resource of `type` configures this
# bucket: same module instance and same count/for_each key (or a companion
# without one), or the same known bucket name.
has_s3_companion(keys, bucket, type) if {
	some key in {instance_key(bucket), "null"}
	concat("|", [type, object.get(bucket, "module_address", ""), config_address(bucket), key]) in keys
}

has_s3_companion(keys, bucket, type) if {
	name := bucket.change.after.bucket
	is_string(name)
	concat("|", [type, "name", name]) in keys
}
