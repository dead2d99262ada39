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

variable "rotation" {
  description = "Yearly key rotation."
  type        = bool
  default     = true
}
