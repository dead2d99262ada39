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
# changes of its own resource types only (`by_type[type]`).
by_type := data.terraform.lib.written_by_type

s3_companions := data.terraform.lib.s3_companions

public_grantees := {
	"http://acs.amazonaws.com/groups/global/AllUsers",
	"http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
}

acl_types := ["aws_s3_bucket", "aws_s3_bucket_acl"]

access_block_types := ["aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"]

iam_policy_types := ["aws_iam_policy", "aws_iam_role_policy", "aws_iam_user_policy", "aws_iam_group_policy"]

# judged(rc): not exempt. Rules call it after their cheap tests: a
# function call costs far more than a comparison.
judged(rc) if not lib.exempt(cfg, rc)

# --- S3 ---------------------------------------------------------------

findings contains msg if {
	some type in acl_types
	some rc in by_type[type]
	acl := lib.after(rc, "acl", null)
	acl in cfg.public_acls
	not lib.exempt(cfg, rc)
	msg := sprintf("%s: public S3 ACL \"%s\"", [rc.address, acl])
}

findings contains msg if {
	some rc in by_type.aws_s3_bucket_acl
	some policy in lib.as_array(lib.after(rc, "access_control_policy", []))
	some grant in policy.grant
	some grantee in grant.grantee
	grantee.uri in public_grantees
	not lib.exempt(cfg, rc)
	msg := sprintf("%s: S3 ACL grants %s to %s", [rc.address, grant.permission, grantee.uri])
}

findings contains msg if {
	cfg.require_public_access_block
	some rc in by_type.aws_s3_bucket
	not lib.has_s3_companion(s3_companions, rc, "aws_s3_bucket_public_access_block")
	not lib.exempt(cfg, rc)
	msg := sprintf("%s: S3 bucket has no aws_s3_bucket_public_access_block", [rc.address])
}

findings contains msg if {
	some type in access_block_types
	some rc in by_type[type]
	some flag in ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"]
	not lib.unknown(rc, flag)
	lib.after(rc, flag, false) != true
	not lib.exempt(cfg, rc)
	msg := sprintf("%s: %s is not true", [rc.address, flag])
}

# --- IAM --------------------------------------------------------------

policy_documents contains [rc.address, doc] if {
	some type in iam_policy_types
	some rc in by_type[type]
	judged(rc)
	text := lib.after(rc, "policy", "")
	is_string(text)
	json.is_valid(text)
	doc := json.unmarshal(text)
}

policy_documents contains [rc.address, doc] if {
	some rc in by_type.aws_iam_role
	judged(rc)
	some inline in lib.as_array(lib.after(rc, "inline_policy", []))
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
	action in {"*", "*:*"}
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

# ingress_rules: [address, from_port, to_port, protocol, cidrs] per rule.
ingress_rules contains [rc.address, rule.from_port, rule.to_port, rule.protocol, cidrs] if {
	some rc in by_type.aws_security_group
	judged(rc)
	some rule in lib.as_array(lib.after(rc, "ingress", []))
	cidrs := array.concat(lib.as_array(object.get(rule, "cidr_blocks", [])), lib.as_array(object.get(rule, "ipv6_cidr_blocks", [])))
}

ingress_rules contains [rc.address, rule.from_port, rule.to_port, rule.protocol, cidrs] if {
	some rc in by_type.aws_security_group_rule
	judged(rc)
	rule := rc.change.after
	rule.type == "ingress"
	cidrs := array.concat(lib.as_array(object.get(rule, "cidr_blocks", [])), lib.as_array(object.get(rule, "ipv6_cidr_blocks", [])))
}

ingress_rules contains [rc.address, from, to, rule.ip_protocol, cidrs] if {
	some rc in by_type.aws_vpc_security_group_ingress_rule
	judged(rc)
	rule := rc.change.after
	from := object.get(rule, "from_port", -1)
	to := object.get(rule, "to_port", -1)
	cidrs := [c | some c in [object.get(rule, "cidr_ipv4", null), object.get(rule, "cidr_ipv6", null)]; c != null]
}

# covers(protocol, from, to, port): the rule reaches the port ("-1" is every
# protocol and port).
covers(protocol, _, _, _) if protocol in {"-1", "all"}

covers(protocol, from, to, port) if {
	not protocol in {"-1", "all"}
	from <= port
	port <= to
}

findings contains msg if {
	some [address, from, to, protocol, cidrs] in ingress_rules
	some cidr in cidrs
	cidr in cfg.open_cidrs
	some port in cfg.admin_ports
	covers(protocol, from, to, port)
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
