# Change safety: no destroy or replace in a protected environment without
# an override, and one environment per pull request.
#
# - In an environment listed in `protected_environments` (default
#   "production"), any resource change that deletes (delete, or a replace in
#   either order) is denied unless its address is in `allow_destroy`. The
#   override is deliberate and reviewed: it lives in a data document changed
#   by the same pull request (or the PR gets the policy-override label from
#   an approver, which tfctl's gates honour).
# - A change touching stacks in more than one environment
#   (data.tfctl.environments) is denied: promote one environment at a time.
#
# Settings (data.tfctl_policy.change_safety):
#   enforcement             "deny" (default), "warn" or "off"
#   protected_environments  environments where destroys need an override
#   allow_destroy           resource addresses allowed to be destroyed there
#   single_environment      true (default): one environment per change
package terraform.change_safety

import data.terraform.lib

defaults := {
	"enforcement": "deny",
	"protected_environments": ["production"],
	"allow_destroy": [],
	"single_environment": true,
}

cfg := lib.settings("change_safety", defaults)

environment := data.tfctl.stack.environment

verb(rc) := "replaced" if lib.replaces(rc)

verb(rc) := "destroyed" if not lib.replaces(rc)

# why(rc): terraform's reason, when the plan gives one.
why(rc) := sprintf(" (%s)", [reason]) if {
	reason := object.get(rc, "action_reason", null)
	is_string(reason)
}

why(rc) := "" if not is_string(object.get(rc, "action_reason", null))

findings contains msg if {
	environment in cfg.protected_environments
	some rc in input.resource_changes
	"delete" in rc.change.actions
	lib.destroys(rc)
	not rc.address in cfg.allow_destroy
	msg := sprintf("%s: would be %s in %s%s; add it to tfctl_policy.change_safety.allow_destroy to proceed", [rc.address, verb(rc), environment, why(rc)])
}

findings contains msg if {
	cfg.single_environment
	environments := {e | some e in data.tfctl.environments}
	count(environments) > 1
	msg := sprintf("this change touches %d environments (%s); open one pull request per environment", [count(environments), concat(", ", sort(environments))])
}

deny contains msg if {
	cfg.enforcement == "deny"
	some msg in findings
}

warn contains msg if {
	cfg.enforcement == "warn"
	some msg in findings
}
