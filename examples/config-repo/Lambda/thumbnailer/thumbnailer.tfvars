environment = "production"
# The function runs as the role of that stack, so the role is applied first.
depends_on = ["IAM/lambda-exec-role"]

function_name = "thumbnailer"
role_name     = "thumbnailer-exec"
runtime       = "python3.12"
handler       = "app.handler"
memory_size   = 512
timeout       = 30

# The build pipeline of the function uploads its package here.
package_bucket = "acme-artifacts-prod"
package_key    = "thumbnailer/1.4.2/thumbnailer.zip"

environment_variables = {
  OUTPUT_PREFIX = "thumbnails/"
}

tags = {
  owner       = "media"
  cost-center = "cc-3100"
}
