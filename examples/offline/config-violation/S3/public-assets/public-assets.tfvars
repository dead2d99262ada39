# Breaks three offline policies: public, unencrypted, and no CostCenter tag.
environment = "production"
name        = "production-s3-public-assets"
encrypted   = false
public      = true
tags = {
  Owner = "web"
}
