# Access: no public S3 buckets, no IAM god-mode statements, no admin ports
# open to the internet.
#
# - S3: no public canned ACL (public-read, public-read-write,
#   authenticated-read) on aws_s3_bucket or aws_s3_bucket_acl, no ACL grant
#   to AllUsers/AuthenticatedUsers; every bucket has an
#   aws_s3_bucket_public_access_block with all four blocks set to true.
# - IAM (aws_iam_policy, aws_iam_{role,user,group}_policy, aws_iam_role
#   inline_policy): no Allow statement with Action "*" on Resource "*" (deny);
#   a service-wide "svc:*" on Resource "*" is a warning.
# - Security groups (aws_security_group ingress blocks,
#   aws_security_group_rule, aws_vpc_security_group_ingress_rule): no ingress
#   from 0.0.0.0/0 or ::/0 reaching an admin port.
#
# Settings (data.tfctl_policy.access):
#   enforcement          "deny" (default), "warn" or "off" (deny findings)
#   admin_ports          ports that must not be open to the internet
#   open_cidrs           CIDRs that mean "the internet"
#   public_acls          canned ACLs that make a bucket public
#   require_public_access_block  true (default)
#   exempt_types, exempt_addresses
package terraform.access

import data.terraform.lib

defaults := {
	"enforcement": "deny",
	"admin_ports": [22, 3389, 5985, 5986],
	"open_cidrs": ["0.0.0.0/0", "::/0"],
	"public_acls": ["public-read", "public-read-write", "authenticated-read"],
	"require_public_access_block": true,
	"exempt_types": [],
	"exempt_addresses": [],
}

cfg := lib.settings("access", defaults)

# Per-plan facts shared by the library, copied into this package (see
# lib/terraform.rego for why). Each rule below loops over the written
# changes of its own resource types only (`by_type[type]`), and tests
# exemption with `not rc.address in exempt` rather than a function call.
by_type := data.terraform.lib.written_by_type

s3_companions := data.terraform.lib.s3_companions

exempt := lib.exempt_addresses(cfg)

public_grantees := {
	"http://acs.amazonaws.com/groups/global/AllUsers",
	"http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
}

acl_types := ["aws_s3_bucket", "aws_s3_bucket_acl"]

access_block_types := ["aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"]

access_block_flags := ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]

iam_policy_types := ["aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy"]

god_actions := {"*", "*:*"}

cidr_attributes := ["cidr_blocks", "ipv6_cidr_blocks"]

# Protocols that mean every protocol and port.
every_protocol := {"-1", "all"}

# --- S3 ---------------------------------------------------------------

findings contains msg if {
	some type in acl_types
	some rc in by_type[type]
	acl := object.get(rc.change.after, "acl", null)
	acl in cfg.public_acls
	not rc.address in exempt
	msg := sprintf("%s: public S3 ACL \"%s\"", [rc.address, acl])
}

findings contains msg if {
	some rc in by_type.aws_s3_bucket_acl
	some policy in lib.as_array(object.get(rc.change.after, "access_control_policy", []))
	some grant in policy.grant
	some grantee in grant.grantee
	grantee.uri in public_grantees
	not rc.address in exempt
	msg := sprintf("%s: S3 ACL grants %s to %s", [rc.address, grant.permission, grantee.uri])
}

findings contains msg if {
	cfg.require_public_access_block
	some rc in by_type.aws_s3_bucket
	not lib.has_s3_companion(s3_companions, rc, "aws_s3_bucket_public_access_block")
	not rc.address in exempt
	msg := sprintf("%s: S3 bucket has no aws_s3_bucket_public_access_block", [rc.address])
}

findings contains msg if {
	some type in access_block_types
	some rc in by_type[type]
	some flag in access_block_flags
	not rc.change.after_unknown[flag] == true
	object.get(rc.change.after, flag, false) != true
	not rc.address in exempt
	msg := sprintf("%s: %s is not true", [rc.address, flag])
}

# --- IAM --------------------------------------------------------------

policy_documents contains [rc.address, doc] if {
	some type in iam_policy_types
	some rc in by_type[type]
	not rc.address in exempt
	text := object.get(rc.change.after, "policy", "")
	is_string(text)
	json.is_valid(text)
	doc := json.unmarshal(text)
}

policy_documents contains [rc.address, doc] if {
	some rc in by_type.aws_iam_role
	not rc.address in exempt
	some inline in lib.as_array(object.get(rc.change.after, "inline_policy", []))
	is_string(inline.policy)
	json.is_valid(inline.policy)
	doc := json.unmarshal(inline.policy)
}

allow_statements contains [address, statement] if {
	some [address, doc] in policy_documents
	some statement in lib.as_array(doc.Statement)
	statement.Effect == "Allow"
	"*" in lib.as_array(object.get(statement, "Resource", []))
}

findings contains msg if {
	some [address, statement] in allow_statements
	some action in lib.as_array(object.get(statement, "Action", []))
	action in god_actions
	msg := sprintf("%s: IAM policy allows action \"%s\" on resource \"*\"", [address, action])
}

# A whole service on every resource ("iam:*") is worth a look, not a block.
warn contains msg if {
	cfg.enforcement != "off"
	some [address, statement] in allow_statements
	some action in lib.as_array(object.get(statement, "Action", []))
	is_string(action)
	endswith(action, ":*")
	action != "*:*"
	msg := sprintf("%s: IAM policy allows every %s action on resource \"*\"", [address, action])
}

# --- Security groups --------------------------------------------------

# open_ingress: [address, from_port, to_port, protocol, cidr] per ingress
# rule and source CIDR that means the internet (cfg.open_cidrs).
open_ingress contains [rc.address, rule.from_port, rule.to_port, rule.protocol, cidr] if {
	some rc in by_type.aws_security_group
	not rc.address in exempt
	some rule in lib.as_array(object.get(rc.change.after, "ingress", []))
	some attr in cidr_attributes
	some cidr in lib.as_array(object.get(rule, attr, []))
	cidr in cfg.open_cidrs
}

open_ingress contains [rc.address, rule.from_port, rule.to_port, rule.protocol, cidr] if {
	some rc in by_type.aws_security_group_rule
	not rc.address in exempt
	rule := rc.change.after
	rule.type == "ingress"
	some attr in cidr_attributes
	some cidr in lib.as_array(object.get(rule, attr, []))
	cidr in cfg.open_cidrs
}

open_ingress contains [rc.address, from, to, rule.ip_protocol, cidr] if {
	some rc in by_type.aws_vpc_security_group_ingress_rule
	not rc.address in exempt
	rule := rc.change.after
	from := object.get(rule, "from_port", -1)
	to := object.get(rule, "to_port", -1)
	some attr in ["cidr_ipv4", "cidr_ipv6"]
	cidr := object.get(rule, attr, null)
	cidr != null
	cidr in cfg.open_cidrs
}

# A rule for every protocol ("-1") reaches every port; others reach the
# ports from from_port to to_port.
findings contains msg if {
	some [address, _, _, protocol, cidr] in open_ingress
	protocol in every_protocol
	some port in cfg.admin_ports
	msg := sprintf("%s: ingress from %s reaches admin port %d", [address, cidr, port])
}

findings contains msg if {
	some [address, from, to, protocol, cidr] in open_ingress
	not protocol in every_protocol
	some port in cfg.admin_ports
	from <= port
	port <= to
	msg := sprintf("%s: ingress from %s reaches admin port %d", [address, cidr, port])
}

deny contains msg if {
	cfg.enforcement == "deny"
	some msg in findings
}

warn contains msg if {
	cfg.enforcement == "warn"
	some msg in findings
}
