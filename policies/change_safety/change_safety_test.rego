# Tests for terraform.change_safety: destroys and replaces in protected
# environments, the allow_destroy override, one environment per change.
package terraform.change_safety_test

import data.terraform.change_safety

ctx(env, envs) := {"stack": {"id": "db/main", "service": "db", "name": "main", "environment": env}, "environments": envs}

change(actions, reason) := {"resource_changes": [object.union(
	{"address": "aws_db_instance.main", "mode": "managed", "type": "aws_db_instance", "name": "main", "change": {"actions": actions}},
	reason,
)]}

test_replace_in_production_is_denied if {
	change_safety.deny == {"aws_db_instance.main: would be replaced in production (replace_because_cannot_update); add it to tfctl_policy.change_safety.allow_destroy to proceed"} with input as change(["delete", "create"], {"action_reason": "replace_because_cannot_update"}) with data.tfctl as ctx("production", ["production"])
}

test_create_before_destroy_replace_is_denied if {
	count(change_safety.deny) == 1 with input as change(["create", "delete"], {}) with data.tfctl as ctx("production", ["production"])
}

test_destroy_in_production_is_denied if {
	change_safety.deny == {"aws_db_instance.main: would be destroyed in production; add it to tfctl_policy.change_safety.allow_destroy to proceed"} with input as change(["delete"], {}) with data.tfctl as ctx("production", ["production"])
}

test_destroy_outside_production_passes if {
	count(change_safety.deny) == 0 with input as change(["delete"], {}) with data.tfctl as ctx("staging", ["staging"])
}

test_updates_in_production_pass if {
	count(change_safety.deny) == 0 with input as change(["update"], {}) with data.tfctl as ctx("production", ["production"])
}

test_override_by_address if {
	count(change_safety.deny) == 0 with input as change(["delete"], {}) with data.tfctl as ctx("production", ["production"]) with data.tfctl_policy as {"change_safety": {"allow_destroy": ["aws_db_instance.main"]}}
}

test_protected_environments_are_configurable if {
	count(change_safety.deny) == 1 with input as change(["delete"], {}) with data.tfctl as ctx("prod-eu", ["prod-eu"]) with data.tfctl_policy as {"change_safety": {"protected_environments": ["prod-eu", "prod-us"]}}
}

test_two_environments_in_one_change_are_denied if {
	change_safety.deny == {"this change touches 2 environments (dev, staging); open one pull request per environment"} with input as change(["update"], {}) with data.tfctl as ctx("dev", ["staging", "dev"])
}

test_single_environment_can_be_switched_off if {
	count(change_safety.deny) == 0 with input as change(["update"], {}) with data.tfctl as ctx("dev", ["staging", "dev"]) with data.tfctl_policy as {"change_safety": {"single_environment": false}}
}

test_without_context_nothing_fires if {
	count(change_safety.deny) == 0 with input as change(["delete"], {})
}
