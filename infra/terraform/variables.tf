# --- Stack -------------------------------------------------------------------------

variable "name" {
  description = "Name of the stack; prefixes every resource name (stream, table, function, topic, alarms) and is the Powertools service name."
  type        = string
  default     = "energymon"

  validation {
    # 26: the derived bucket name <name>-archive-<12-digit account>-<region> must fit S3's 63 characters
    # in the longest region name (15, us-isof-south-1); tests/integration/terraform/test_name_limits.py.
    condition     = can(regex("^[a-z][a-z0-9-]{1,24}[a-z0-9]$", var.name))
    error_message = "name must be 3-26 lowercase letters, digits or '-', start with a letter and end with a letter or digit (it becomes part of the S3 bucket name <name>-archive-<account>-<region>, at most 63 characters)."
  }
}

variable "tags" {
  description = "Tags merged into every taggable resource (on top of Project, Stack and ManagedBy)."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(var.tags) <= 47 && alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && !startswith(lower(k), "aws:")])
    error_message = "tags: at most 47 (AWS allows 50 per resource and the stack adds Project, Stack and ManagedBy), keys of 1-128 and values of at most 256 characters, no key starting with aws:."
  }
}

variable "kms_deletion_window_days" {
  description = "Waiting period before the stack's KMS key is deleted after destroy (7-30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30 && floor(var.kms_deletion_window_days) == var.kms_deletion_window_days
    error_message = "kms_deletion_window_days must be a whole number of days between 7 and 30."
  }
}

# --- IoT ---------------------------------------------------------------------------

variable "things" {
  description = "IoT things (one per metering box), keyed by thing name = MQTT client id = device_id. Optional certificate_csr: a PEM CSR made on the device."
  type = map(object({
    attributes      = optional(map(string), {})
    certificate_csr = optional(string)
  }))
  default = {}
}

variable "manage_iot_policy" {
  description = "Create the device IoT policy and its certificate attachments. Keep true: only the moto example sets false, because moto 5.2 cannot tag IoT resources."
  type        = bool
  default     = true
}

variable "manage_iot_topic_rule" {
  description = "Create the IoT topic rule (and its Failure alarm). Keep true: only the moto example sets false, because moto 5.2 cannot tag IoT resources."
  type        = bool
  default     = true
}

# --- Stream ------------------------------------------------------------------------

variable "stream_mode" {
  description = "Kinesis capacity mode: PROVISIONED (about 11 USD per shard-month, cheapest for one apartment) or ON_DEMAND."
  type        = string
  default     = "PROVISIONED"

  validation {
    condition     = contains(["PROVISIONED", "ON_DEMAND"], var.stream_mode)
    error_message = "stream_mode must be PROVISIONED or ON_DEMAND."
  }
}

variable "stream_shard_count" {
  description = "Shards when stream_mode is PROVISIONED (1-500)."
  type        = number
  default     = 1

  validation {
    condition     = var.stream_shard_count >= 1 && var.stream_shard_count <= 500 && floor(var.stream_shard_count) == var.stream_shard_count
    error_message = "stream_shard_count must be a whole number between 1 and 500."
  }
}

variable "stream_retention_hours" {
  description = "Stream retention in hours (24-8760): the window to re-read failed batches."
  type        = number
  default     = 24

  validation {
    condition     = var.stream_retention_hours >= 24 && var.stream_retention_hours <= 8760 && floor(var.stream_retention_hours) == var.stream_retention_hours
    error_message = "stream_retention_hours must be a whole number of hours between 24 and 8760 (365 days)."
  }
}

# --- Processor ---------------------------------------------------------------------

variable "lambda_zip_path" {
  description = "Path to the deployment zip built by `energymon package-lambda --output build/energymon-lambda.zip`."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must point to the .zip built by `energymon package-lambda`."
  }
}

variable "lambda_runtime" {
  description = "Lambda Python runtime (arm64): python3.12 or python3.13."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.lambda_runtime)
    error_message = "lambda_runtime must be python3.12 or python3.13."
  }
}

variable "lambda_memory_size" {
  description = "Memory of the processor in MB (128-10240)."
  type        = number
  default     = 256

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240 && floor(var.lambda_memory_size) == var.lambda_memory_size
    error_message = "lambda_memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "lambda_timeout_seconds" {
  description = "Timeout of the processor in seconds (1-900)."
  type        = number
  default     = 60

  validation {
    condition     = var.lambda_timeout_seconds >= 1 && var.lambda_timeout_seconds <= 900 && floor(var.lambda_timeout_seconds) == var.lambda_timeout_seconds
    error_message = "lambda_timeout_seconds must be a whole number between 1 and 900."
  }
}

variable "lambda_reserved_concurrent_executions" {
  description = "Reserved (and maximum) concurrency of the processor, or -1 (the default) for none. AWS keeps 100 executions of the account unreserved and new accounts may have a total quota of 10-50, so any reservation fails there; reserve (at least shards x parallelization_factor) only on an account with room for it."
  type        = number
  default     = -1

  validation {
    condition     = var.lambda_reserved_concurrent_executions == -1 || (var.lambda_reserved_concurrent_executions >= 1 && var.lambda_reserved_concurrent_executions <= 1000)
    error_message = "lambda_reserved_concurrent_executions must be -1 (unreserved) or between 1 and 1000; 0 would throttle every invocation."
  }
}

variable "lambda_tracing_mode" {
  description = "X-Ray tracing of the processor: PassThrough or Active (Active adds X-Ray write permissions)."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.lambda_tracing_mode)
    error_message = "lambda_tracing_mode must be PassThrough or Active."
  }
}

variable "batch_size" {
  description = "Records per processor invocation (Kinesis event source mapping: 1-10000)."
  type        = number
  default     = 100

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number between 1 and 10000 (Kinesis event source mapping limit)."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "Seconds the event source mapping gathers records before invoking (0-300)."
  type        = number
  default     = 10

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300 && floor(var.maximum_batching_window_in_seconds) == var.maximum_batching_window_in_seconds
    error_message = "maximum_batching_window_in_seconds must be a whole number of seconds between 0 and 300."
  }
}

variable "parallelization_factor" {
  description = "Concurrent batches per shard (1-10); order is kept per device (partition key)."
  type        = number
  default     = 1

  validation {
    condition     = var.parallelization_factor >= 1 && var.parallelization_factor <= 10 && floor(var.parallelization_factor) == var.parallelization_factor
    error_message = "parallelization_factor must be a whole number between 1 and 10."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before its metadata goes to the on-failure queue (0-10000; infinite is not allowed)."
  type        = number
  default     = 5

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 10000 && floor(var.maximum_retry_attempts) == var.maximum_retry_attempts
    error_message = "maximum_retry_attempts must be a whole number between 0 and 10000 (-1, infinite retries, is not allowed: one poison record would block its shard)."
  }
}

variable "maximum_record_age_in_seconds" {
  description = "Records older than this go to the on-failure queue instead of being retried (60-604800; unbounded is not allowed)."
  type        = number
  default     = 3600

  validation {
    condition     = var.maximum_record_age_in_seconds >= 60 && var.maximum_record_age_in_seconds <= 604800 && floor(var.maximum_record_age_in_seconds) == var.maximum_record_age_in_seconds
    error_message = "maximum_record_age_in_seconds must be a whole number between 60 and 604800 (-1, unbounded, is not allowed)."
  }
}

variable "default_timezone" {
  description = "IANA time zone for devices that declare none (ENERGYMON_DEFAULT_TIMEZONE)."
  type        = string
  default     = "Europe/Amsterdam"

  validation {
    condition     = can(regex("^(UTC|[A-Z][A-Za-z_+-]*(/[A-Za-z0-9_+-]+){1,2})$", var.default_timezone))
    error_message = "default_timezone must be an IANA time zone name such as Europe/Amsterdam, America/St_Johns or UTC."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the processor's EMF metrics (POWERTOOLS_METRICS_NAMESPACE)."
  type        = string
  default     = "Energymon"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace must be 1-255 characters of letters, digits or . _ / # : - and must not start with AWS/."
  }
}

variable "log_level" {
  description = "Log level of the processor (POWERTOOLS_LOG_LEVEL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL."
  }
}

variable "log_retention_days" {
  description = "Retention of the processor's log group in days (a CloudWatch Logs value such as 30, 90, 365)."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

# --- Storage -----------------------------------------------------------------------

variable "table_deletion_protection" {
  description = "Protect the DynamoDB table against deletion (turn off only for throw-away stacks)."
  type        = bool
  default     = true
}

variable "archive_bucket_name" {
  description = "Name of the S3 archive bucket; null derives a unique one: <name>-archive-<account>-<region>."
  type        = string
  default     = null

  validation {
    condition     = var.archive_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.archive_bucket_name))
    error_message = "archive_bucket_name must be null or a valid S3 bucket name (3-63 lowercase letters, digits, '.' or '-')."
  }
}

variable "archive_force_destroy" {
  description = "Let terraform destroy empty the archive bucket (all versions). Keep false for real data."
  type        = bool
  default     = false
}

variable "archive_standard_ia_after_days" {
  description = "Days before archived objects move to STANDARD_IA (at least 30)."
  type        = number
  default     = 30

  validation {
    condition     = var.archive_standard_ia_after_days >= 30 && var.archive_standard_ia_after_days <= 3650
    error_message = "archive_standard_ia_after_days must be between 30 and 3650 (S3 does not allow STANDARD_IA before day 30)."
  }
}

variable "archive_glacier_after_days" {
  description = "Days before archived objects move to GLACIER (at least 30 after STANDARD_IA)."
  type        = number
  default     = 90

  validation {
    condition     = var.archive_glacier_after_days >= var.archive_standard_ia_after_days + 30 && var.archive_glacier_after_days <= 3650
    error_message = "archive_glacier_after_days must be at least 30 days after archive_standard_ia_after_days and at most 3650."
  }
}

variable "archive_expiration_days" {
  description = "Days before archived objects expire (at least 90 after GLACIER), or null to keep them forever."
  type        = number
  default     = 730

  validation {
    condition     = var.archive_expiration_days == null || try(var.archive_expiration_days >= var.archive_glacier_after_days + 90 && var.archive_expiration_days <= 36500, false)
    error_message = "archive_expiration_days must be null (never expire) or between archive_glacier_after_days + 90 and 36500."
  }
}

variable "archive_noncurrent_version_expiration_days" {
  description = "Days before overwritten archive object versions are deleted."
  type        = number
  default     = 30

  validation {
    condition     = var.archive_noncurrent_version_expiration_days >= 1 && var.archive_noncurrent_version_expiration_days <= 3650
    error_message = "archive_noncurrent_version_expiration_days must be between 1 and 3650."
  }
}

# --- Monitoring --------------------------------------------------------------------

variable "alert_emails" {
  description = "E-mail addresses subscribed to the alert topic (alarms and processor alerts)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}$", e))])
    error_message = "Every entry of alert_emails must be a valid e-mail address such as ops@example.com."
  }
}

variable "iterator_age_alarm_threshold_ms" {
  description = "Alarm when the processor lags the stream by more than this many milliseconds."
  type        = number
  default     = 300000

  validation {
    condition     = var.iterator_age_alarm_threshold_ms >= 1000 && var.iterator_age_alarm_threshold_ms <= 604800000
    error_message = "iterator_age_alarm_threshold_ms must be between 1000 (1 s) and 604800000 (7 days)."
  }
}

variable "create_dashboard" {
  description = "Create the CloudWatch dashboard."
  type        = bool
  default     = true
}

variable "alerts_schedule_expression" {
  description = "EventBridge schedule of the scheduled alert evaluator (no_data, base load, budgets, unusual days, and the alert outbox): rate(1 minute), rate(N minutes|hours|days) or cron(...)."
  type        = string
  default     = "rate(1 minute)"

  validation {
    condition     = can(regex("^(rate\\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\\)|cron\\([^()]+\\))$", var.alerts_schedule_expression))
    error_message = "alerts_schedule_expression must be rate(1 minute), rate(N minutes|hours|days) with N >= 2 (AWS wants the singular for 1), or cron(...)."
  }
}

variable "alert_emails_consumption" {
  description = "E-mail addresses subscribed to the consumption-alert topic (user-facing alerts; ops alarms go to alert_emails)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails_consumption : can(regex("^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}$", e))])
    error_message = "Every entry of alert_emails_consumption must be a valid e-mail address such as me@example.com."
  }
}
