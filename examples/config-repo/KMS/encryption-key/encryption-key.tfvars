environment = "production"

alias                   = "alias/encryption-key"
description             = "Encrypts the production data lake"
deletion_window_in_days = 30

tags = {
  owner       = "security"
  cost-center = "cc-1000"
}
