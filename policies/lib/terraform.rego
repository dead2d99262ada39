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

# The run context, each undefined when tfctl (or conftest --data) did not
# provide it.
environment := data.tfctl.stack.environment

service := data.tfctl.stack.service

stack_name := data.tfctl.stack.name

# module_path(rc): the resource's module without instance keys
# ("module.a.module.b"), "" in the root module.
module_path(rc) := regex.replace(rc.module_address, `\[[^\]]*\]`, "")

module_path(rc) := "" if not rc.module_address

# Configuration blocks of every module that has changes, keyed
# "<module path>|<address in module>", so a lookup is one map access even
# for plans with tens of thousands of changes.
config_index[key] := resource if {
	some m in ({module_path(rc) | some rc in input.resource_changes} | {""})
	some resource in object.get(input.configuration.root_module, config_path(m), [])
	key := concat("|", [m, resource.address])
}

# config_path("module.a.module.b") = the path of b's resources in the
# configuration: module_calls.a.module.module_calls.b.module.resources.
config_path(m) := ["resources"] if m == ""

config_path(m) := path if {
	m != ""
	parts := split(m, ".")
	names := [name | some i, name in parts; i % 2 == 1]
	path := array.concat([seg | some name in names; some seg in ["module_calls", name, "module"]], ["resources"])
}

# config_of(rc): the configuration block that declares the resource.
config_of(rc) := config_index[concat("|", [module_path(rc), config_address(rc)])]

config_address(rc) := sprintf("%s.%s", [rc.type, rc.name]) if rc.mode == "managed"

config_address(rc) := sprintf("data.%s.%s", [rc.type, rc.name]) if rc.mode == "data"

# references(rc, attr): the configuration's references for an attribute,
# reduced to "<type>.<name>" (instance keys and attribute paths dropped).
references(rc, attr) := {target |
	some ref in config_of(rc).expressions[attr].references
	parts := split(regex.replace(ref, `\[[^\]]*\]`, ""), ".")
	count(parts) >= 2
	target := concat(".", [parts[0], parts[1]])
}

# instance_key(rc): the count/for_each key as JSON ("null" without one).
instance_key(rc) := json.marshal(object.get(rc, "index", null))

# provider_local_name(rc): "aws" for registry.terraform.io/hashicorp/aws.
provider_local_name(rc) := name if {
	parts := split(rc.provider_name, "/")
	name := parts[count(parts) - 1]
}

# provider_config(rc): the provider block the resource uses, by its
# configuration's provider_config_key, else the default block of its provider.
provider_config(rc) := input.configuration.provider_config[config_of(rc).provider_config_key]

provider_config(rc) := input.configuration.provider_config[provider_local_name(rc)] if {
	not input.configuration.provider_config[config_of(rc).provider_config_key]
}

# default_tags(rc): constant provider default_tags the resource inherits.
default_tags(rc) := tags if {
	tags := provider_config(rc).expressions.default_tags[0].tags.constant_value
	is_object(tags)
} else := {}

# Keys of S3 companion resources (public access block, encryption
# configuration, ...) that will exist after apply, one per bucket they point
# at: "<type>|<module instance>|<bucket address>|<instance key>" from the
# configuration's references, and "<type>|name|<bucket name>" from a known
# planned bucket name.
s3_companion_keys contains key if {
	some rc in input.resource_changes
	startswith(rc.type, "aws_s3_")
	remains(rc)
	some target in references(rc, "bucket")
	key := concat("|", [rc.type, object.get(rc, "module_address", ""), target, instance_key(rc)])
}

s3_companion_keys contains key if {
	some rc in input.resource_changes
	startswith(rc.type, "aws_s3_")
	remains(rc)
	name := rc.change.after.bucket
	is_string(name)
	key := concat("|", [rc.type, "name", name])
}

# has_s3_companion(bucket, type): a resource of `type` configures this
# bucket: same module instance and same count/for_each key (or a companion
# without one), or the same known bucket name.
has_s3_companion(bucket, type) if {
	some key in {instance_key(bucket), "null"}
	concat("|", [type, object.get(bucket, "module_address", ""), config_address(bucket), key]) in s3_companion_keys
}

has_s3_companion(bucket, type) if {
	name := bucket.change.after.bucket
	is_string(name)
	concat("|", [type, "name", name]) in s3_companion_keys
}
