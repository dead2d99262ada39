# Tests for terraform.naming: the convention passes and fails, settings
# change the pattern and enforcement, sensitive names are left alone.
package terraform.naming_test

import data.terraform.naming

ctx := {"stack": {"id": "S3/logs", "service": "S3", "name": "logs", "environment": "dev"}, "environments": ["dev"]}

plan(type, attrs) := {"resource_changes": [{
	"address": sprintf("%s.this", [type]),
	"mode": "managed", "type": type, "name": "this",
	"change": {"actions": ["create"], "after": attrs, "after_unknown": {}},
}]}

test_conforming_bucket_passes if {
	count(naming.deny) == 0 with input as plan("aws_s3_bucket", {"bucket": "dev-s3-access-logs"}) with data.tfctl as ctx
}

test_wrong_environment_is_denied if {
	naming.deny == {`aws_s3_bucket.this: bucket "prod-s3-access-logs" does not follow the naming convention dev-s3-<name>`} with input as plan("aws_s3_bucket", {"bucket": "prod-s3-access-logs"}) with data.tfctl as ctx
}

test_uppercase_is_denied if {
	count(naming.deny) == 1 with input as plan("aws_iam_role", {"name": "dev-s3-Reader"}) with data.tfctl as ctx
}

test_type_specific_attribute if {
	count(naming.deny) == 1 with input as plan("aws_lambda_function", {"function_name": "handler", "name": "dev-s3-ok"}) with data.tfctl as ctx
}

test_exempt_type_is_skipped if {
	count(naming.deny) == 0 with input as plan("aws_kms_alias", {"name": "alias/dev"}) with data.tfctl as ctx
}

test_unknown_name_is_not_judged if {
	count(naming.deny) == 0 with input as plan("aws_iam_role", {}) with data.tfctl as ctx
}

test_sensitive_name_is_not_shown if {
	p := {"resource_changes": [{
		"address": "aws_iam_role.x", "mode": "managed", "type": "aws_iam_role", "name": "x",
		"change": {"actions": ["create"], "after": {"name": "Secret_Name"}, "after_sensitive": {"name": true}},
	}]}
	count(naming.deny) == 0 with input as p with data.tfctl as ctx
}

test_without_context_any_words_match if {
	count(naming.deny) == 0 with input as plan("aws_iam_role", {"name": "qa-billing-reader"})
	count(naming.deny) == 1 with input as plan("aws_iam_role", {"name": "reader"})
}

test_team_pattern_and_warn_mode if {
	settings := {"naming": {"pattern": "^{service}-{stack}-[a-z]+$", "convention": "{service}-{stack}-<name>", "enforcement": "warn"}}
	p := plan("aws_iam_role", {"name": "dev-s3-reader"})
	count(naming.deny) == 0 with input as p with data.tfctl as ctx with data.tfctl_policy as settings
	naming.warn == {`aws_iam_role.this: name "dev-s3-reader" does not follow the naming convention s3-logs-<name>`} with input as p with data.tfctl as ctx with data.tfctl_policy as settings
	count(naming.warn) == 0 with input as plan("aws_iam_role", {"name": "s3-logs-reader"}) with data.tfctl as ctx with data.tfctl_policy as settings
}
