variable "function_name" {
  description = "Name of the archiver Lambda function (also names its role, log group and schedule rule)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,55}$", var.function_name))
    error_message = "function_name must be 1-55 characters of letters, digits, '_' or '-' (the '-schedule' suffix of the rule needs the rest of its 64-character limit)."
  }
}

variable "lambda_zip_path" {
  description = "Path to the deployment zip built by `energymon package-lambda` (the processor's package)."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must point to a .zip file built by `energymon package-lambda`."
  }
}

variable "layers" {
  description = "Lambda layer ARNs for the archiver: compaction imports pyarrow, which the processor's zip leaves out (e.g. the AWS SDK for pandas layer)."
  type        = list(string)
  default     = []
}

variable "runtime" {
  description = "Lambda Python runtime."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.12 or python3.13."
  }
}

variable "memory_size" {
  description = "Archiver memory in MB (a day of Parquet is built in memory)."
  type        = number
  default     = 1024

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "timeout_seconds" {
  description = "Archiver timeout in seconds (1-900)."
  type        = number
  default     = 900

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900 && floor(var.timeout_seconds) == var.timeout_seconds
    error_message = "timeout_seconds must be a whole number between 1 and 900."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode of the archiver: PassThrough or Active."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be PassThrough or Active."
  }
}

variable "log_retention_days" {
  description = "Days to keep the archiver's logs."
  type        = number
  default     = 30
}

variable "schedule_expression" {
  description = "When the archiver runs: more often than every two days keeps silence openers pinned before the TTL can act; with the processor's archive_mode = scheduled it is also how soon a closed UTC hour reaches the archive. Hourly by default."
  type        = string
  default     = "rate(1 hour)"

  validation {
    condition     = can(regex("^(rate\\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\\)|cron\\(.+\\))$", var.schedule_expression))
    error_message = "schedule_expression must be rate(1 hour), rate(N hours), rate(N minutes) (singular for 1) or cron(...)."
  }
}

variable "raw_retention_days" {
  description = "Days raw readings stay in the table (the processor's TTL); the root module checks it against the recompute reach."
  type        = number

  validation {
    condition     = var.raw_retention_days > 0
    error_message = "raw_retention_days must be a positive number of days."
  }
}

variable "stream_retention_hours" {
  description = "The stream's retention in hours: how late a record can still be processed."
  type        = number
}

variable "table_name" {
  description = "Name of the DynamoDB table."
  type        = string
}

variable "table_arn" {
  description = "ARN of the DynamoDB table (the role's only table)."
  type        = string
}

variable "archive_bucket_name" {
  description = "Name of the archive bucket."
  type        = string
}

variable "archive_bucket_arn" {
  description = "ARN of the archive bucket (the role may touch raw/ only)."
  type        = string
}

variable "log_level" {
  description = "Log level of the archiver."
  type        = string
  default     = "INFO"
}

variable "kms_key_arn" {
  description = "ARN of the KMS key of the table, bucket, logs and environment, or null for AWS managed keys."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null (AWS managed keys) or a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}
