variable "function_name" {
  description = "Name of the read API Lambda function (also names its role, log groups and the HTTP API)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,59}$", var.function_name))
    error_message = "function_name must be 1-59 characters of letters, digits, '_' or '-' (the '-role' and '-read-only' suffixes need the rest of the 64/128 limits)."
  }
}

variable "lambda_zip_path" {
  description = "Path to the deployment zip built by `energymon package-lambda` (the same zip as the processor's)."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must point to a .zip file built by `energymon package-lambda`."
  }
}

variable "handler" {
  description = "Python import path of the read API handler."
  type        = string
  default     = "energymon.runtimes.api_lambda.handler"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.]*\\.[A-Za-z_][A-Za-z0-9_]*$", var.handler))
    error_message = "handler must be a dotted Python path such as energymon.runtimes.api_lambda.handler."
  }
}

variable "runtime" {
  description = "Lambda Python runtime (arm64)."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime must be python3.12 or python3.13."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB (CPU scales with it: 512 keeps a year of daily bars well under a second)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "timeout_seconds" {
  description = "Function timeout in seconds (API Gateway waits at most 30 s for an integration)."
  type        = number
  default     = 15

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 30 && floor(var.timeout_seconds) == var.timeout_seconds
    error_message = "timeout_seconds must be a whole number between 1 and 30 (the HTTP API integration limit)."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for (and capping) the read API; -1 (default) reserves none: new accounts cannot reserve any, and the stage throttling already bounds the load."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrent_executions == -1 || (var.reserved_concurrent_executions >= 0 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions)
    error_message = "reserved_concurrent_executions must be -1 (no reservation) or a whole number >= 0."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's and the access log groups in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the CloudWatch Logs values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "table_name" {
  description = "Name of the DynamoDB table the API reads (ENERGYMON_TABLE_NAME)."
  type        = string
}

variable "table_arn" {
  description = "ARN of the DynamoDB table the API reads (its only data permission)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-zA-Z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/.+$", var.table_arn))
    error_message = "table_arn must be a DynamoDB table ARN."
  }
}

variable "api_token" {
  description = "Bearer token of the read API (at least 32 characters of letters, digits, '-', '_', '.', '~'; e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`). Only its SHA-256 reaches the function."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.api_token) >= 32 && length(var.api_token) <= 256 && can(regex("^[A-Za-z0-9._~-]+$", var.api_token))
    error_message = "api_token must be 32-256 characters of letters, digits, '-', '_', '.' or '~' (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')."
  }
}

variable "settings_bucket_name" {
  description = "Bucket holding the shared settings document (the archive bucket)."
  type        = string
}

variable "settings_bucket_arn" {
  description = "ARN of that bucket: the role may read the settings document and nothing else in it."
  type        = string
}

variable "settings_object_key" {
  description = "Key of the shared settings document (zones, tariffs, labels: the same the processor applies)."
  type        = string
}

variable "settings_object_sha256" {
  description = "SHA-256 of the document, checked at cold start (a changed document changes the function)."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.settings_object_sha256))
    error_message = "settings_object_sha256 must be 64 lower-case hex digits (Terraform's sha256())."
  }
}

variable "log_level" {
  description = "Log level of the handler (POWERTOOLS_LOG_LEVEL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
  }
}

variable "throttling_burst_limit" {
  description = "Stage throttling: burst (requests at once) across all clients."
  type        = number
  default     = 20

  validation {
    condition     = var.throttling_burst_limit >= 1 && var.throttling_burst_limit <= 5000 && floor(var.throttling_burst_limit) == var.throttling_burst_limit
    error_message = "throttling_burst_limit must be a whole number between 1 and 5000."
  }
}

variable "throttling_rate_limit" {
  description = "Stage throttling: steady requests per second across all clients."
  type        = number
  default     = 10

  validation {
    condition     = var.throttling_rate_limit > 0 && var.throttling_rate_limit <= 10000
    error_message = "throttling_rate_limit must be more than 0 and at most 10000 requests per second."
  }
}

variable "kms_key_arn" {
  description = "ARN of the stack's customer managed KMS key (log groups, environment variables; the table is encrypted with it), or null for AWS managed keys."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null (AWS managed keys) or a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "tags" {
  description = "Tags applied to every resource of this module."
  type        = map(string)
  default     = {}
}
