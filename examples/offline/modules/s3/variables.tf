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

variable "policy_document" {
  description = "Bucket policy JSON, usually the file beside the tfvars."
  type        = string
  default     = ""
}
