variable "name" {
  description = "Resource name; policies require <environment>-<service>-<name> style."
  type        = string
}

variable "environment" {
  description = "Set by the stack tfvars; tfctl reads it to pick branch and credentials."
  type        = string
}

variable "tags" {
  description = "Tags every resource carries; policies require Owner and CostCenter."
  type        = map(string)
  default     = {}
}

variable "fail_plan" {
  description = "Makes the plan fail through a precondition (to show failure isolation)."
  type        = bool
  default     = false
}

variable "encrypted" {
  description = "Server-side encryption with the KMS key."
  type        = bool
  default     = true
}

variable "public" {
  description = "Whether the bucket allows public reads."
  type        = bool
  default     = false
}

variable "kms_key" {
  description = "Stack id of the KMS key stack (an implicit dependency for tfctl)."
  type        = string
  default     = ""
}

variable "policy_file" {
  description = "Bucket policy JSON: the name of a file beside the stack's tfvars (its companion)."
  type        = string
  default     = ""
}

variable "tfctl_stack_dir" {
  description = "The stack's directory, absolute; tfctl sets it, so companion files need no relative path."
  type        = string
}
