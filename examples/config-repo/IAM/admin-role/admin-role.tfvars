environment = "production"

role_name = "platform-admin"
# Who may assume the role: the SSO admin permission set of the org account.
trusted_principal_arns = ["arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_PlatformAdmin_0123456789abcdef"]
managed_policy_arns    = ["arn:aws:iam::aws:policy/AdministratorAccess"]
max_session_duration   = 3600

tags = {
  owner       = "platform"
  cost-center = "cc-1000"
}
