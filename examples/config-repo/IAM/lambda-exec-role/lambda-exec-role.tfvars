environment = "production"

role_name            = "thumbnailer-exec"
trusted_services     = ["lambda.amazonaws.com"]
managed_policy_arns  = ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]
max_session_duration = 3600

tags = {
  owner       = "media"
  cost-center = "cc-3100"
}
