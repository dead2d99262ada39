# One S3 bucket: KMS-encrypted, public access blocked, owner-enforced, with an
# optional bucket policy read from the JSON document beside the stack's tfvars
# (through tfctl_stack_dir, wherever the config repo is checked out).

variable "bucket_name" {
  description = "Globally unique bucket name."
  type        = string
}

variable "kms_key_alias" {
  description = "Alias of the KMS key that encrypts the bucket (a KMS stack's alias, or alias/aws/s3)."
  type        = string
}

variable "versioning" {
  description = "Keep every version of every object."
  type        = bool
  default     = true
}

variable "bucket_policy_file" {
  description = "Bucket policy JSON: the name of a file beside the stack's tfvars (its companion)."
  type        = string
  default     = null

  validation {
    condition     = !strcontains(coalesce(var.bucket_policy_file, "-"), "/")
    error_message = "bucket_policy_file names a file beside the stack's tfvars (no `/`)."
  }
}

variable "tfctl_stack_dir" {
  description = "The stack's directory in the config checkout, absolute; tfctl sets it."
  type        = string
}

data "aws_kms_alias" "this" {
  name = var.kms_key_alias
}

resource "aws_s3_bucket" "this" {
  bucket = var.bucket_name
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = data.aws_kms_alias.this.target_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = var.versioning ? "Enabled" : "Suspended"
  }
}

resource "aws_s3_bucket_policy" "this" {
  count = var.bucket_policy_file == null ? 0 : 1

  bucket = aws_s3_bucket.this.id
  policy = file("${var.tfctl_stack_dir}/${var.bucket_policy_file}")

  # A policy that grants access is only accepted once public access is blocked.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

output "bucket_arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.this.arn
}
