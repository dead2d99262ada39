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
# It holds helper functions over one resource change, and a few per-plan
# facts (rules, below) that every policy shares.
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

# --- Per-plan facts, shared by every policy -----------------------------
#
# Computed at most once per plan: tfctl evaluates all policies in one query,
# so the first policy that reads a fact computes it and the others reuse it.
# Policies copy the ones they need into a rule of their own package with the
# full path, e.g. `written := data.terraform.lib.written`, for two reasons
# (both regorus; OPA is indifferent):
#   - read through the import alias (`lib.written`), regorus evaluates every
#     rule of this package, not just the one named;
#   - a rule of the policy's own package is far cheaper to read inside a
#     loop over thousands of changes than a rule of another package.

# written: the changes that write (see writes, here inline), in plan order.
written := [rc |
	some rc in input.resource_changes
	rc.mode == "managed"
	some action in rc.change.actions
	write_actions[action]
	is_object(rc.change.after)
]

write_actions := {"create", "update"}

# written_by_type[type]: the written changes of one resource type, so a
# rule about S3 buckets loops over buckets only, not over every change.
written_by_type[rc.type] contains rc if {
	some rc in written
}

# index: configuration lookups (see plan_index).
index := plan_index(input)

# s3_companions: keys of S3 companion resources (see s3_companion_keys).
s3_companions := s3_companion_keys(index, input)

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

# exempt_addresses(cfg): the addresses of the written changes that
# exempt(cfg, rc) holds for, once per plan. Policies keep it in a rule
# (`exempt := lib.exempt_addresses(cfg)`) and test `not rc.address in
# exempt`: a set lookup costs far less than a function call per change.
exempt_addresses(cfg) := {rc.address |
	some type in cfg.exempt_types
	some rc in written_by_type[type]
} | {address | some address in cfg.exempt_addresses}

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
# (`else` chains stop at the first match; separate definitions of a
# function are all evaluated on every call.)
as_object(x) := x if is_object(x)
else := {}

# as_array(x): x when it is an array, [] for null, [x] for a single value.
as_array(x) := x if is_array(x)
else := [] if x == null
else := [x]

# plan_index(plan): lookups built once per plan (the `index` rule above):
#   module_path_of  module address → path without instance keys
#   default_tags    provider_config key → constant provider default_tags
#   blocks          module address → mode → type → name → facts about the
#                   configuration block that declares such a resource:
#                     config        the block itself
#                     bucket_refs   "<type>.<name>" its `bucket` references
#                     default_tags  the default_tags of the provider block it
#                                   names (absent when that needs the
#                                   fallback in default_tags below)
# Per-block facts are computed once per configuration block and module
# instance, not once per count/for_each instance; a resource change finds
# its block with plain lookups (no string building).
plan_index(plan) := {
	"module_path_of": paths,
	"default_tags": provider_tags,
	"blocks": {address: block_facts(plan, path, provider_tags) | some address, path in paths},
} if {
	paths := {address: strip_keys(address) |
		some address in ({rc.module_address | some rc in object.get(plan, "resource_changes", [])} | {""})
	}
	provider_tags := provider_default_tags(plan)
}

# block_facts(plan, path, provider_tags): the `blocks` entry of one module.
block_facts(plan, path, provider_tags) := {mode: {type: {block.name: facts |
	some block in blocks
	object.get(block, "mode", "managed") == mode
	block.type == type
	facts := object.union(
		{"config": block, "bucket_refs": reference_targets(block, "bucket")},
		{"default_tags": tags | tags := block_default_tags(block, provider_tags)},
	)
} |
	some type in {block.type | some block in blocks}
} |
	some mode in {object.get(block, "mode", "managed") | some block in blocks}
} if {
	blocks := object.get(object.get(plan, "configuration", {}), array.concat(["root_module"], config_path(path)), [])
}

# block_default_tags(block, provider_tags): what default_tags gives every
# resource of the block, when that does not depend on the resource: {}
# without any provider default_tags, else those of the block's provider.
block_default_tags(_, provider_tags) := {} if count(provider_tags) == 0

block_default_tags(block, provider_tags) := object.get(provider_tags, block.provider_config_key, {}) if {
	count(provider_tags) > 0
}

strip_keys(address) := address if not contains(address, "[")

strip_keys(address) := regex.replace(address, `\[[^\]]*\]`, "") if contains(address, "[")

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

# block_of(index, rc): facts about the configuration block that declares
# the resource (see plan_index). One object.get with a path instead of
# chained brackets (`x[a][b]`): regorus builds and discards an error value
# for each inner dynamic bracket, which is slow (very slow when
# RUST_BACKTRACE is set, as every error then records a backtrace).
block_of(index, rc) := object.get(index.blocks, [object.get(rc, "module_address", ""), rc.mode, rc.type, rc.name], null)

# config_of(index, rc): the configuration block that declares the resource.
config_of(index, rc) := block_of(index, rc).config

# references(index, rc, attr): the configuration's references for an attribute,
# reduced to "<type>.<name>" (instance keys and attribute paths dropped).
references(index, rc, attr) := reference_targets(config_of(index, rc), attr)

reference_targets(block, attr) := {target |
	some ref in block.expressions[attr].references
	parts := split(ref, ".")
	count(parts) >= 2
	target := concat(".", [parts[0], split(parts[1], "[")[0]])
}

# provider_local_name(rc): "aws" for registry.terraform.io/hashicorp/aws.
provider_local_name(rc) := name if {
	parts := split(rc.provider_name, "/")
	name := parts[count(parts) - 1]
}

# default_tags(index, rc): constant provider default_tags the resource
# inherits, from the provider block its configuration names (else its
# provider's default block); {} when no provider sets default_tags.
default_tags(index, rc) := tags if {
	# block_of(index, rc).default_tags, written out: this runs once per
	# taggable resource.
	tags := object.get(index.blocks, [object.get(rc, "module_address", ""), rc.mode, rc.type, rc.name, "default_tags"], null)
	tags != null
} else := object.get(index.default_tags, provider_local_name(rc), {})

# s3_companion_keys(index, plan): keys of S3 companion resources (public
# access block, encryption configuration, ...) that will exist after apply,
# one per bucket they point at: [type, module instance, bucket address,
# count/for_each key (null without one)] from the configuration's
# references, and [type, "name", bucket name] from a known planned bucket
# name (the `s3_companions` rule above).
s3_companion_keys(index, plan) := by_reference | by_name if {
	companions := [rc |
		some rc in object.get(plan, "resource_changes", [])
		startswith(rc.type, "aws_s3_")
		rc.mode == "managed"
		not rc.change.actions == ["delete"] # remains(rc), inline
	]
	by_reference := {[rc.type, module, target, object.get(rc, "index", null)] |
		some rc in companions
		module := object.get(rc, "module_address", "")
		some target in object.get(index.blocks, [module, "managed", rc.type, rc.name, "bucket_refs"], [])
	}
	by_name := {[rc.type, "name", name] |
		some rc in companions
		name := rc.change.after.bucket
		is_string(name)
	}
}

# has_s3_companion(keys, bucket, type): a resource of `type` configures this
# managed bucket: same module instance and same count/for_each key (or a
# companion without one), or the same known bucket name.
has_s3_companion(keys, bucket, type) if {
	bucket.mode == "managed"
	module := object.get(bucket, "module_address", "")
	address := concat(".", [bucket.type, bucket.name])
	some key in [object.get(bucket, "index", null), null]
	[type, module, address, key] in keys
}

has_s3_companion(keys, bucket, type) if {
	name := bucket.change.after.bucket
	is_string(name)
	[type, "name", name] in keys
}
