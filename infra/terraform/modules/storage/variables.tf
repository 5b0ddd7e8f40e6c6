variable "table_name" {
  description = "Name of the DynamoDB table (keys pk/sk, TTL attribute expires_at)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{3,255}$", var.table_name))
    error_message = "table_name must be 3-255 characters of letters, digits, '_', '.' or '-'."
  }
}

variable "table_deletion_protection" {
  description = "Protect the DynamoDB table against deletion. Turn off only for throw-away stacks (tests, emulators)."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "ARN of the customer managed KMS key of the DynamoDB table and the settings object, or null: the table then uses DynamoDB's AWS owned key and the settings object SSE-S3."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null (AWS managed keys) or a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "archive_bucket_name" {
  description = "Globally unique name of the S3 archive bucket (raw readings and the rejected/ prefix)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.archive_bucket_name)) && !can(regex("\\.\\.", var.archive_bucket_name))
    error_message = "archive_bucket_name must be a valid S3 bucket name: 3-63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit."
  }
}

variable "archive_force_destroy" {
  description = "Allow terraform destroy to delete the archive bucket with all its objects and versions. Keep false for real data."
  type        = bool
  default     = false
}

variable "archive_standard_ia_after_days" {
  description = "Days after which archived objects move to STANDARD_IA (S3 requires at least 30)."
  type        = number
  default     = 30

  validation {
    condition     = var.archive_standard_ia_after_days >= 30 && var.archive_standard_ia_after_days <= 3650
    error_message = "archive_standard_ia_after_days must be between 30 and 3650 (S3 does not allow STANDARD_IA before day 30)."
  }
}

variable "archive_glacier_after_days" {
  description = "Days after which raw/ batch objects move to GLACIER and days/ Parquet objects to GLACIER_IR (Athena reads it); must be at least 30 days after the STANDARD_IA transition."
  type        = number
  default     = 90

  validation {
    condition     = var.archive_glacier_after_days >= var.archive_standard_ia_after_days + 30 && var.archive_glacier_after_days <= 3650
    error_message = "archive_glacier_after_days must be at least 30 days after archive_standard_ia_after_days and at most 3650."
  }
}

variable "archive_expiration_days" {
  description = "Days after which archived objects expire, or null to keep them forever. Must come at least 90 days after the GLACIER transition (its minimum storage duration)."
  type        = number
  default     = 730

  validation {
    condition     = var.archive_expiration_days == null || try(var.archive_expiration_days >= var.archive_glacier_after_days + 90 && var.archive_expiration_days <= 36500, false)
    error_message = "archive_expiration_days must be null (never expire) or between archive_glacier_after_days + 90 and 36500."
  }
}

variable "archive_noncurrent_version_expiration_days" {
  description = "Days after which overwritten (noncurrent) object versions are deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.archive_noncurrent_version_expiration_days >= 1 && var.archive_noncurrent_version_expiration_days <= 3650
    error_message = "archive_noncurrent_version_expiration_days must be between 1 and 3650."
  }
}

variable "settings_document_json" {
  description = "The shared settings document (JSON) the processor loads at cold start, written to config/settings.json in the archive bucket, KMS-encrypted with kms_key_arn."
  type        = string

  validation {
    condition     = can(jsondecode(var.settings_document_json))
    error_message = "settings_document_json must be a JSON document."
  }
}

variable "tags" {
  description = "Tags applied to every resource of this module."
  type        = map(string)
  default     = {}
}
