# Shared by every root module of the controller (kept identical on purpose:
# tfctl runs each stack against one of these directories).
terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 7.0"
    }
  }

  # Partial configuration: tfctl passes bucket, key (from the `backend.key`
  # template of tfctl.yaml), region and locking with -backend-config.
  backend "s3" {}
}

# The job authenticates by OIDC to a hub role; each environment's account is
# reached by assuming the role that tfctl.yaml sets for that environment.
provider "aws" {
  region = var.aws_region

  assume_role {
    role_arn     = var.assume_role_arn
    session_name = "tfctl-${var.environment}"
  }

  default_tags {
    tags = merge(var.tags, {
      environment = var.environment
      managed-by  = "tfctl"
    })
  }
}

# `environment` and `depends_on` in a stack's tfvars are read by tfctl too;
# `depends_on` is a reserved name here, so Terraform only warns that it is
# not declared.
variable "environment" {
  description = "Environment of the stack (its tfvars `environment`)."
  type        = string

  validation {
    condition     = contains(["development", "staging", "production"], var.environment)
    error_message = "environment must be development, staging or production."
  }
}

variable "aws_region" {
  description = "Region of the stack's resources (set per environment in tfctl.yaml)."
  type        = string
}

variable "assume_role_arn" {
  description = "Role in the environment's account that Terraform assumes (set per environment in tfctl.yaml)."
  type        = string
}

variable "tags" {
  description = "Tags on every resource, beside environment and managed-by."
  type        = map(string)
  default     = {}
}
