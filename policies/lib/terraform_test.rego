# Tests for the shared helpers: settings merge, change classification and
# configuration lookups through nested modules.
package terraform.lib_test

import data.terraform.lib

test_settings_defaults_without_data if {
	lib.settings("naming", {"a": 1, "b": [1]}) == {"a": 1, "b": [1]}
}

test_settings_data_overrides_defaults if {
	got := lib.settings("naming", {"a": 1, "b": [1]}) with data.tfctl_policy as {"naming": {"b": [2, 3]}}
	got == {"a": 1, "b": [2, 3]}
}

test_writes_and_destroys if {
	create := {"mode": "managed", "change": {"actions": ["create"], "after": {}}}
	replace := {"mode": "managed", "change": {"actions": ["create", "delete"], "after": {}}}
	delete := {"mode": "managed", "change": {"actions": ["delete"], "after": null}}
	lib.writes(create)
	lib.writes(replace)
	not lib.writes(delete)
	lib.destroys(replace)
	lib.replaces(replace)
	lib.destroys(delete)
	not lib.replaces(delete)
	not lib.destroys(create)
}

test_data_sources_are_not_written if {
	not lib.writes({"mode": "data", "change": {"actions": ["read"], "after": {}}})
}

nested_plan := {
	"resource_changes": [{
		"address": "module.a[0].module.b.aws_s3_bucket.x",
		"module_address": "module.a[0].module.b",
		"mode": "managed", "type": "aws_s3_bucket", "name": "x",
		"provider_name": "registry.terraform.io/hashicorp/aws",
	}],
	"configuration": {
		"provider_config": {"aws": {"name": "aws", "expressions": {"default_tags": [{"tags": {"constant_value": {"Owner": "team"}}}]}}},
		"root_module": {"module_calls": {"a": {"module": {"module_calls": {"b": {"module": {"resources": [{
			"address": "aws_s3_bucket.x",
			"mode": "managed", "type": "aws_s3_bucket", "name": "x",
			"provider_config_key": "aws",
			"expressions": {"bucket": {"references": ["var.name", "aws_s3_bucket.y[0].id", "aws_s3_bucket.y[0]", "aws_s3_bucket.y"]}},
		}]}}}}}}},
	},
}

test_config_lookup_through_nested_module_instances if {
	rc := nested_plan.resource_changes[0]
	index := lib.plan_index(nested_plan)
	lib.module_path(index, rc) == "module.a.module.b"
	lib.config_of(index, rc).address == "aws_s3_bucket.x"
	lib.references(index, rc, "bucket") == {"var.name", "aws_s3_bucket.y"}
	lib.default_tags(index, rc) == {"Owner": "team"}
}

test_default_tags_empty_without_provider_block if {
	index := lib.plan_index({"configuration": {}})
	lib.default_tags(index, {"type": "aws_s3_bucket", "name": "x", "mode": "managed", "provider_name": "aws"}) == {}
}

test_as_array if {
	lib.as_array("a") == ["a"]
	lib.as_array(["a"]) == ["a"]
	lib.as_array(null) == []
}
