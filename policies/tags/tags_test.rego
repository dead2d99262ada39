# Tests for terraform.tags: required keys from tags, tags_all, unknown
# values and provider default_tags; the Environment tag must match.
package terraform.tags_test

import data.terraform.tags

ctx := {"stack": {"id": "app/web", "service": "app", "name": "web", "environment": "dev"}}

all_tags := {"Owner": "team", "CostCenter": "cc-1", "Environment": "dev"}

plan(after, unknown, provider) := {
	"resource_changes": [{
		"address": "aws_instance.web", "mode": "managed", "type": "aws_instance", "name": "web",
		"provider_name": "registry.terraform.io/hashicorp/aws",
		"change": {"actions": ["create"], "after": after, "after_unknown": unknown},
	}],
	"configuration": {
		"provider_config": {"aws": provider},
		"root_module": {"resources": [{"address": "aws_instance.web", "mode": "managed", "type": "aws_instance", "name": "web", "provider_config_key": "aws", "expressions": {}}]},
	},
}

no_provider := {"name": "aws"}

test_fully_tagged_passes if {
	count(tags.deny) == 0 with input as plan({"tags": all_tags}, {}, no_provider) with data.tfctl as ctx
}

test_missing_tags_are_listed_sorted if {
	tags.deny == {"aws_instance.web: missing required tags CostCenter, Environment, Owner"} with input as plan({"tags": null}, {}, no_provider) with data.tfctl as ctx
}

test_tags_all_counts if {
	count(tags.deny) == 0 with input as plan({"tags": {}, "tags_all": all_tags}, {}, no_provider) with data.tfctl as ctx
}

test_unknown_tag_values_count_as_present if {
	count(tags.deny) == 0 with input as plan({"tags": {"Environment": "dev"}}, {"tags": {"Owner": true, "CostCenter": true}}, no_provider) with data.tfctl as ctx
}

test_provider_default_tags_count if {
	provider := {"name": "aws", "expressions": {"default_tags": [{"tags": {"constant_value": {"Owner": "team", "CostCenter": "cc-1"}}}]}}
	count(tags.deny) == 0 with input as plan({"tags": {"Environment": "dev"}}, {"tags_all": true}, provider) with data.tfctl as ctx
	tags.deny == {"aws_instance.web: missing required tags Environment"} with input as plan({"tags": null}, {"tags_all": true}, provider) with data.tfctl as ctx
}

test_environment_tag_must_match_stack if {
	bad := object.union(all_tags, {"Environment": "production"})
	tags.deny == {`aws_instance.web: tag Environment is "production" but the stack's environment is "dev"`} with input as plan({"tags": bad}, {}, no_provider) with data.tfctl as ctx
}

test_untaggable_resources_are_skipped if {
	count(tags.deny) == 0 with input as plan({"ami": "ami-1"}, {}, no_provider) with data.tfctl as ctx
}

test_deletes_are_not_judged if {
	p := {"resource_changes": [{"address": "aws_instance.old", "mode": "managed", "type": "aws_instance", "name": "old", "change": {"actions": ["delete"], "before": {"tags": null}, "after": null}}]}
	count(tags.deny) == 0 with input as p with data.tfctl as ctx
}

test_required_list_is_configurable if {
	settings := {"tags": {"required": ["Team"], "environment_tag": ""}}
	tags.deny == {"aws_instance.web: missing required tags Team"} with input as plan({"tags": all_tags}, {}, no_provider) with data.tfctl as ctx with data.tfctl_policy as settings
}

# A resource the configuration does not show (or shows without a
# provider_config_key) inherits its provider's default block by provider
# name, and its own tags still count. (regorus once left such a resource
# with no tags at all, unlike OPA.)
test_default_tags_by_provider_name_when_block_is_missing if {
	provider := {"name": "aws", "expressions": {"default_tags": [{"tags": {"constant_value": {"Owner": "team"}}}]}}
	p := object.union(plan({"tags": {"Environment": "dev", "CostCenter": "cc-1"}}, {}, provider), {"configuration": {"root_module": {"resources": []}}})
	count(tags.deny) == 0 with input as p with data.tfctl as ctx
}
