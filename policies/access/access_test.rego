# Tests for terraform.access: public S3 ACLs and access blocks, IAM
# wildcards, and internet ingress to admin ports.
package terraform.access_test

import data.terraform.access

rc(type, name, after) := {
	"address": sprintf("%s.%s", [type, name]), "mode": "managed", "type": type, "name": name,
	"change": {"actions": ["create"], "after": after, "after_unknown": {}},
}

blocked := {"block_public_acls": true, "block_public_policy": true, "ignore_public_acls": true, "restrict_public_buckets": true}

bucket := rc("aws_s3_bucket", "b", {"bucket": "dev-app-b"})

pab := rc("aws_s3_bucket_public_access_block", "b", object.union(blocked, {"bucket": "dev-app-b"}))

test_private_bucket_with_access_block_passes if {
	count(access.deny) == 0 with input as {"resource_changes": [bucket, pab]}
}

test_bucket_without_access_block_is_denied if {
	access.deny == {"aws_s3_bucket.b: S3 bucket has no aws_s3_bucket_public_access_block"} with input as {"resource_changes": [bucket]}
}

test_access_block_with_a_flag_off_is_denied if {
	weak := rc("aws_s3_bucket_public_access_block", "b", object.union(blocked, {"bucket": "dev-app-b", "ignore_public_acls": false}))
	access.deny == {"aws_s3_bucket_public_access_block.b: ignore_public_acls is not true"} with input as {"resource_changes": [bucket, weak]}
}

test_access_block_can_be_waived if {
	count(access.deny) == 0 with input as {"resource_changes": [bucket]} with data.tfctl_policy as {"access": {"require_public_access_block": false}}
}

test_public_acls_are_denied if {
	acl := rc("aws_s3_bucket_acl", "b", {"acl": "public-read"})
	inline := rc("aws_s3_bucket", "c", {"acl": "authenticated-read"})
	access.deny == {
		`aws_s3_bucket_acl.b: public S3 ACL "public-read"`,
		`aws_s3_bucket.c: public S3 ACL "authenticated-read"`,
		"aws_s3_bucket.c: S3 bucket has no aws_s3_bucket_public_access_block",
	} with input as {"resource_changes": [acl, inline]}
}

test_public_grant_is_denied if {
	acl := rc("aws_s3_bucket_acl", "b", {"access_control_policy": [{"grant": [{"permission": "READ", "grantee": [{"type": "Group", "uri": "http://acs.amazonaws.com/groups/global/AllUsers"}]}]}]})
	access.deny == {"aws_s3_bucket_acl.b: S3 ACL grants READ to http://acs.amazonaws.com/groups/global/AllUsers"} with input as {"resource_changes": [acl]}
}

policy(doc) := rc("aws_iam_policy", "p", {"policy": json.marshal(doc)})

test_iam_star_on_star_is_denied if {
	doc := {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
	access.deny == {`aws_iam_policy.p: IAM policy allows action "*" on resource "*"`} with input as {"resource_changes": [policy(doc)]}
}

test_iam_single_statement_object_and_lists if {
	doc := {"Statement": {"Effect": "Allow", "Action": ["s3:GetObject", "*:*"], "Resource": ["arn:aws:s3:::b", "*"]}}
	access.deny == {`aws_iam_policy.p: IAM policy allows action "*:*" on resource "*"`} with input as {"resource_changes": [policy(doc)]}
}

test_iam_scoped_or_deny_statements_pass if {
	scoped := {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"}]}
	deny_all := {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}
	count(access.deny) == 0 with input as {"resource_changes": [policy(scoped)]}
	count(access.deny) == 0 with input as {"resource_changes": [policy(deny_all)]}
}

test_iam_service_wildcard_warns if {
	doc := {"Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}
	count(access.deny) == 0 with input as {"resource_changes": [policy(doc)]}
	access.warn == {`aws_iam_policy.p: IAM policy allows every iam:* action on resource "*"`} with input as {"resource_changes": [policy(doc)]}
}

test_iam_role_inline_policy_and_unparseable_text if {
	doc := json.marshal({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
	role := rc("aws_iam_role", "r", {"inline_policy": [{"name": "x", "policy": doc}, {"name": "y", "policy": ""}]})
	access.deny == {`aws_iam_role.r: IAM policy allows action "*" on resource "*"`} with input as {"resource_changes": [role]}
}

test_ssh_from_internet_is_denied if {
	sg := rc("aws_security_group", "web", {"ingress": [
		{"from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": []},
		{"from_port": 443, "to_port": 443, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": []},
	]})
	access.deny == {"aws_security_group.web: ingress from 0.0.0.0/0 reaches admin port 22"} with input as {"resource_changes": [sg]}
}

test_rdp_range_and_all_protocols if {
	range_rule := rc("aws_security_group_rule", "r", {"type": "ingress", "from_port": 3000, "to_port": 4000, "protocol": "tcp", "cidr_blocks": null, "ipv6_cidr_blocks": ["::/0"]})
	all_rule := rc("aws_vpc_security_group_ingress_rule", "a", {"ip_protocol": "-1", "cidr_ipv4": "0.0.0.0/0"})
	access.deny == {
		"aws_security_group_rule.r: ingress from ::/0 reaches admin port 3389",
		"aws_vpc_security_group_ingress_rule.a: ingress from 0.0.0.0/0 reaches admin port 22",
		"aws_vpc_security_group_ingress_rule.a: ingress from 0.0.0.0/0 reaches admin port 3389",
		"aws_vpc_security_group_ingress_rule.a: ingress from 0.0.0.0/0 reaches admin port 5985",
		"aws_vpc_security_group_ingress_rule.a: ingress from 0.0.0.0/0 reaches admin port 5986",
	} with input as {"resource_changes": [range_rule, all_rule]}
}

test_private_cidr_and_egress_pass if {
	private := rc("aws_security_group_rule", "p", {"type": "ingress", "from_port": 22, "to_port": 22, "protocol": "tcp", "cidr_blocks": ["10.0.0.0/8"]})
	egress := rc("aws_security_group_rule", "e", {"type": "egress", "from_port": 0, "to_port": 0, "protocol": "-1", "cidr_blocks": ["0.0.0.0/0"]})
	count(access.deny) == 0 with input as {"resource_changes": [private, egress]}
}

test_admin_ports_are_configurable if {
	sg := rc("aws_security_group_rule", "db", {"type": "ingress", "from_port": 5432, "to_port": 5432, "protocol": "tcp", "cidr_blocks": ["0.0.0.0/0"]})
	count(access.deny) == 0 with input as {"resource_changes": [sg]}
	count(access.deny) == 1 with input as {"resource_changes": [sg]} with data.tfctl_policy as {"access": {"admin_ports": [5432]}}
}
