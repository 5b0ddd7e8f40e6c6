variable "function_name" {
  description = "Name of the scheduled alert Lambda function (also names its role, log group and schedule rule)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,55}$", var.function_name))
    error_message = "function_name must be 1-55 characters of letters, digits, '_' or '-' (the '-schedule' suffix of the rule needs the rest of its 64-character limit)."
  }
}

variable "lambda_zip_path" {
  description = "Path to the deployment zip built by `energymon package-lambda` (the processor's zip: the same package)."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must point to a .zip file built by `energymon package-lambda`."
  }
}

variable "handler" {
  description = "Python import path of the scheduled handler."
  type        = string
  default     = "energymon.runtimes.lambda_handler.scheduled_handler"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.]*\\.[A-Za-z_][A-Za-z0-9_]*$", var.handler))
    error_message = "handler must be a dotted Python path such as energymon.runtimes.lambda_handler.scheduled_handler."
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
  description = "Memory of the function in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "timeout_seconds" {
  description = "Function timeout in seconds (at most the schedule's period is useful)."
  type        = number
  default     = 50

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900 && floor(var.timeout_seconds) == var.timeout_seconds
    error_message = "timeout_seconds must be a whole number between 1 and 900."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: PassThrough or Active."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be PassThrough or Active."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's log group in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a CloudWatch Logs retention value (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "schedule_expression" {
  description = "EventBridge schedule of the evaluator: rate(1 minute), rate(N minutes|hours|days) or cron(...)."
  type        = string
  default     = "rate(1 minute)"

  validation {
    condition     = can(regex("^(rate\\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\\)|cron\\([^()]+\\))$", var.schedule_expression))
    error_message = "schedule_expression must be rate(1 minute), rate(N minutes|hours|days) with N >= 2 (AWS wants the singular for 1), or cron(...)."
  }
}

variable "topic_name" {
  description = "Name of the consumption-alert SNS topic (beside the ops-alarm topic)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,256}$", var.topic_name))
    error_message = "topic_name must be 1-256 characters of letters, digits, '_' or '-'."
  }
}

variable "alert_emails_consumption" {
  description = "E-mail addresses subscribed to the consumption-alert topic (each confirms by e-mail)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails_consumption : can(regex("^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}$", e))])
    error_message = "Every entry of alert_emails_consumption must be a valid e-mail address such as me@example.com."
  }
}

variable "table_name" {
  description = "Name of the readings table (alert state, history and outbox live in it under ALERT# keys)."
  type        = string
}

variable "table_arn" {
  description = "ARN of the readings table."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:dynamodb:", var.table_arn))
    error_message = "table_arn must be a DynamoDB table ARN."
  }
}

variable "archive_bucket_name" {
  description = "Name of the archive bucket that holds the shared settings document."
  type        = string
}

variable "archive_bucket_arn" {
  description = "ARN of the archive bucket."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::", var.archive_bucket_arn))
    error_message = "archive_bucket_arn must be an S3 bucket ARN."
  }
}

variable "settings_object_key" {
  description = "Key of the shared settings document (its `alerts` section: rules and channels) in the archive bucket."
  type        = string
  default     = "config/settings.json"

  validation {
    condition     = startswith(var.settings_object_key, "config/") && endswith(var.settings_object_key, ".json")
    error_message = "settings_object_key must be a .json key under config/ (the only prefix the role may read)."
  }
}

variable "settings_object_sha256" {
  description = "SHA-256 of the settings document (ENERGYMON_SETTINGS_SHA256, checked at cold start)."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.settings_object_sha256))
    error_message = "settings_object_sha256 must be 64 lowercase hex digits (Terraform's sha256())."
  }
}

variable "powertools_service_name" {
  description = "POWERTOOLS_SERVICE_NAME (the metrics' service dimension)."
  type        = string
}

variable "powertools_metrics_namespace" {
  description = "POWERTOOLS_METRICS_NAMESPACE (CloudWatch namespace of the EMF metrics)."
  type        = string
}

variable "log_level" {
  description = "POWERTOOLS_LOG_LEVEL of the function."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
  }
}

variable "kms_key_arn" {
  description = "ARN of the stack's KMS key (topic, log group, environment; table and bucket are encrypted with it), or null for AWS managed keys (the topic is then unencrypted: it carries alert texts only)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null (AWS managed keys) or a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "tags" {
  description = "Tags for every resource of this module."
  type        = map(string)
  default     = {}
}
