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

# --- Profile: what the stack is built from (README "One home for under $2 a month") --

variable "buffer" {
  description = "The buffer between the IoT rule and the processor: kinesis (the fleet design: ordered per device, replayable for stream_retention_hours, about 11 USD per shard-month whether or not anything flows) or sqs (one home: a standard SQS queue, paid per request, at-least-once and unordered, which the processor's idempotent, order-insensitive writes make safe)."
  type        = string
  default     = "kinesis"

  validation {
    condition     = contains(["kinesis", "sqs"], var.buffer)
    error_message = "buffer must be kinesis or sqs."
  }

  # The combinations an SQS mapping cannot work with sit here, on buffer, not on the variables they name: a
  # variable whose validation reads another is not validated at all while that other one is invalid, which
  # would hide the plain range errors of batch_size or maximum_batching_window_in_seconds.
  validation {
    condition     = var.parallelization_factor == null || var.buffer == "kinesis"
    error_message = "parallelization_factor applies to buffer = \"kinesis\" only: an SQS event source mapping has no parallelization factor (its concurrency is sqs_maximum_concurrency). Leave it unset with buffer = \"sqs\"."
  }

  validation {
    condition     = var.buffer != "sqs" || var.batch_size <= 10 || var.maximum_batching_window_in_seconds >= 1
    error_message = "With buffer = \"sqs\", a batch_size above 10 needs maximum_batching_window_in_seconds of at least 1: Lambda refuses an SQS event source mapping that gathers more than 10 messages without a batching window."
  }

  validation {
    condition     = var.buffer != "sqs" || var.maximum_retry_attempts <= 999
    error_message = "With buffer = \"sqs\", maximum_retry_attempts must be at most 999: the queue's redrive policy moves a message to the dead-letter queue after maximum_retry_attempts + 1 receives, and SQS allows a maxReceiveCount of 1-1000."
  }
}

variable "encryption" {
  description = "Keys at rest: customer_key (one customer managed KMS key for stream/queue, table, topics, logs and Lambda environments; 1 USD a month plus requests; its key policy and CloudTrail say who used it) or aws_managed (S3 SSE-S3, DynamoDB's AWS owned key, SQS SSE-SQS, Kinesis' aws/kinesis key, AWS-managed keys for logs and Lambda environments, alarm topics unencrypted: no key to pay for, no key policy of your own)."
  type        = string
  default     = "customer_key"

  validation {
    condition     = contains(["customer_key", "aws_managed"], var.encryption)
    error_message = "encryption must be customer_key or aws_managed."
  }
}

variable "metrics_mode" {
  description = "The processor's custom metrics (METRICS_MODE): emf (every metric as EMF, rejection reasons as a dimension), emf_lean (EMF for readings_processed, readings_rejected and batch_seconds only: three custom metrics), log_filters (no EMF: one JSON log line per metric, and CloudWatch Logs metric filters on the processor's log group publish the same three), or logs_only (the same log lines and no custom metric at all: read them with Logs Insights; the cheapest). Every mode but emf also keeps only the alarms that protect data, which watch metrics AWS publishes itself."
  type        = string
  default     = "emf"

  validation {
    condition     = contains(["emf", "emf_lean", "log_filters", "logs_only"], var.metrics_mode)
    error_message = "metrics_mode must be emf, emf_lean, log_filters or logs_only."
  }
}

variable "sqs_maximum_concurrency" {
  description = "With buffer = sqs: the most concurrent processor invocations the SQS event source mapping starts (2-1000; null = 2, the fewest SQS allows, enough for one home and fewest concurrent writers of one device). Kinesis has no such setting (one batch per shard x parallelization_factor)."
  type        = number
  default     = null

  validation {
    condition     = var.sqs_maximum_concurrency == null || try(var.sqs_maximum_concurrency >= 2 && var.sqs_maximum_concurrency <= 1000 && floor(var.sqs_maximum_concurrency) == var.sqs_maximum_concurrency, false)
    error_message = "sqs_maximum_concurrency must be null or a whole number between 2 and 1000 (the range of an SQS event source mapping's MaximumConcurrency)."
  }

  validation {
    condition     = var.sqs_maximum_concurrency == null || var.buffer == "sqs"
    error_message = "sqs_maximum_concurrency applies to buffer = \"sqs\" only: a Kinesis mapping's concurrency is shards x parallelization_factor."
  }
}

# --- IoT ---------------------------------------------------------------------------

variable "things" {
  description = "Extra IoT thing settings, keyed by thing name = MQTT client id = device_id: certificate_csr (a PEM CSR made on the device) and attributes. Every key of devices is a thing already (with its label and timezone as attributes); list a thing here to add a CSR or attributes, or for a thing without device settings."
  type = map(object({
    attributes      = optional(map(string), {})
    certificate_csr = optional(string)
  }))
  default = {}

  validation {
    # IoT CreateThing without a thing type takes at most 3 attributes; label and timezone of devices count.
    condition = alltrue([for name, t in var.things : length(merge(
      try(var.devices[name].label, null) == null ? {} : { label = "" },
      try(var.devices[name].timezone, null) == null ? {} : { timezone = "" },
      t.attributes,
    )) <= 3])
    error_message = "An IoT thing takes at most 3 attributes (without a thing type), counting the label and timezone that devices.<id> adds."
  }

  validation {
    condition     = alltrue(flatten([for t in values(var.things) : [for k, v in t.attributes : can(regex("^[a-zA-Z0-9_.,@/:#=\\[\\]-]{0,800}$", v)) && can(regex("^[a-zA-Z0-9_.,@/:#=\\[\\]-]{1,128}$", k))]]))
    error_message = "IoT thing attribute names and values may only hold letters, digits and _ . , @ / : # = [ ] - (names 1-128, values up to 800 characters)."
  }
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

variable "basic_ingest" {
  description = "Devices may publish through IoT Core's Basic Ingest ($aws/rules/<iot_topic_rule_name>/energy/<thing>/telemetry): the topic rule runs without the message broker and no messaging is billed (a third of the fleet's bill at 1,000 homes). The agent's basic_ingest_rule publishes there; output iot_basic_ingest_topic_prefix gives the prefix."
  type        = bool
  default     = true
}

variable "broker_topic" {
  description = "Devices may also publish to the broker topic energy/<thing>/* (billed per 5 KB message; visible to MQTT subscribers). Set false once every device uses Basic Ingest, so none can run up messaging charges."
  type        = bool
  default     = true

  validation {
    condition     = var.broker_topic || var.basic_ingest
    error_message = "broker_topic and basic_ingest cannot both be false: the device policy would allow no publish at all."
  }
}

# --- Stream ------------------------------------------------------------------------

variable "stream_mode" {
  description = "Kinesis capacity mode (buffer = kinesis): PROVISIONED (about 11 USD per shard-month) or ON_DEMAND. For one home, buffer = sqs costs nothing while idle."
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
  description = "Records (Kinesis) or messages (SQS) per processor invocation (1-10000; with buffer = sqs above 10 only with a batching window of at least 1 s)."
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
  description = "Kinesis only: concurrent batches per shard (1-10; null = 1); order is kept per device (partition key)."
  type        = number
  default     = null

  validation {
    condition     = var.parallelization_factor == null || try(var.parallelization_factor >= 1 && var.parallelization_factor <= 10 && floor(var.parallelization_factor) == var.parallelization_factor, false)
    error_message = "parallelization_factor must be a whole number between 1 and 10."
  }

}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before its metadata goes to the on-failure queue (0-10000; infinite is not allowed); with buffer = sqs, a message moves to the dead-letter queue after this many + 1 receives (at most 999)."
  type        = number
  default     = 5

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 10000 && floor(var.maximum_retry_attempts) == var.maximum_retry_attempts
    error_message = "maximum_retry_attempts must be a whole number between 0 and 10000 (-1, infinite retries, is not allowed: one poison record would block its shard)."
  }

}

variable "maximum_record_age_in_seconds" {
  description = "Kinesis only: records older than this go to the on-failure queue instead of being retried (60-604800; unbounded is not allowed)."
  type        = number
  default     = 3600

  validation {
    condition     = var.maximum_record_age_in_seconds >= 60 && var.maximum_record_age_in_seconds <= 604800 && floor(var.maximum_record_age_in_seconds) == var.maximum_record_age_in_seconds
    error_message = "maximum_record_age_in_seconds must be a whole number between 60 and 604800 (-1, unbounded, is not allowed)."
  }
}

variable "default_timezone" {
  description = "IANA time zone for devices that declare none (the settings document's timezone)."
  type        = string
  default     = "Europe/Amsterdam"

  validation {
    condition     = can(regex("^(UTC|[A-Z][A-Za-z_+-]*(/[A-Za-z0-9_+-]+){1,2})$", var.default_timezone))
    error_message = "default_timezone must be an IANA time zone name such as Europe/Amsterdam, America/St_Johns or UTC."
  }
}

# --- Shared settings (per device) ----------------------------------------------------
# Rendered into s3://<archive bucket>/config/settings.json (settings.tf), the document the processor loads at cold
# start: the same model (energymon.shared_settings.SharedSettings) the local runtime builds from its TOML file.
# Prices are strings ("0.30") so they reach the cost code exactly; the handler validates the tariff in full.

variable "tariff" {
  description = "Default tariff of every device (same shape as the TOML [tariff] table: currency, periods with from/to dates, price_per_kwh, standing_charge_per_day, windows); null: no cost is computed."
  type = object({
    currency = string
    name     = optional(string)
    periods = list(object({
      from                    = string
      to                      = optional(string)
      price_per_kwh           = optional(string)
      standing_charge_per_day = optional(string)
      windows = optional(list(object({
        days          = string
        start         = string
        end           = string
        price_per_kwh = string
        name          = optional(string)
      })))
    }))
  })
  default = null

  validation {
    condition     = var.tariff == null || can(regex("^[A-Z]{3}$", var.tariff.currency))
    error_message = "tariff.currency must be an ISO 4217 code (three capitals, e.g. EUR)."
  }

  validation {
    condition     = var.tariff == null ? true : (length(var.tariff.periods) > 0 && alltrue([for p in var.tariff.periods : can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", p.from)) && (p.to == null || can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", p.to)))]))
    error_message = "tariff.periods must be a non-empty list whose from/to are dates written YYYY-MM-DD."
  }
}

variable "energy_defaults" {
  description = "Default plausibility limits of every device: max_power_w (highest plausible power, W), max_gap_s (longest silence bridged by interpolation, s), jitter_wh (counter decreases up to this are meter jitter, Wh)."
  type = object({
    max_power_w = optional(number, 50000)
    max_gap_s   = optional(number, 300)
    jitter_wh   = optional(number, 1)
  })
  default = {}

  validation {
    condition     = var.energy_defaults.max_power_w > 0 && var.energy_defaults.max_gap_s > 0 && var.energy_defaults.jitter_wh >= 0
    error_message = "energy_defaults: max_power_w and max_gap_s must be greater than 0, jitter_wh 0 or more."
  }
}

variable "devices" {
  description = "Per-device settings, keyed by device id (= IoT thing name = MQTT client id): timezone, tariff, max_power_w, max_gap_s, jitter_wh, label. Unset keys fall back to default_timezone, tariff and energy_defaults. Each device also gets an IoT thing (label and timezone as attributes)."
  type = map(object({
    timezone = optional(string)
    tariff = optional(object({
      currency = string
      name     = optional(string)
      periods = list(object({
        from                    = string
        to                      = optional(string)
        price_per_kwh           = optional(string)
        standing_charge_per_day = optional(string)
        windows = optional(list(object({
          days          = string
          start         = string
          end           = string
          price_per_kwh = string
          name          = optional(string)
        })))
      }))
    }))
    max_power_w = optional(number)
    max_gap_s   = optional(number)
    jitter_wh   = optional(number)
    label       = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for id in keys(var.devices) : can(regex("^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$", id))])
    error_message = "Every key of devices must be a device id of 1-128 letters, digits, '_' or '-', starting with a letter or digit (it is also the IoT thing name and the MQTT client id)."
  }

  validation {
    condition     = alltrue([for d in values(var.devices) : d.timezone == null || can(regex("^(UTC|[A-Z][A-Za-z_+-]*(/[A-Za-z0-9_+-]+){1,2})$", d.timezone))])
    error_message = "devices.<id>.timezone must be an IANA time zone name such as Europe/Amsterdam, America/St_Johns or UTC."
  }

  validation {
    condition     = alltrue([for d in values(var.devices) : (d.max_power_w == null || try(d.max_power_w > 0, false)) && (d.max_gap_s == null || try(d.max_gap_s > 0, false))])
    error_message = "devices.<id>.max_power_w and devices.<id>.max_gap_s must be greater than 0."
  }

  validation {
    condition     = alltrue([for d in values(var.devices) : d.jitter_wh == null || try(d.jitter_wh >= 0, false)])
    error_message = "devices.<id>.jitter_wh must be 0 or more."
  }

  validation {
    condition     = alltrue([for d in values(var.devices) : d.label == null || can(regex("^[^[:cntrl:]]{1,64}$", d.label))])
    error_message = "devices.<id>.label must be 1-64 printable characters (no control characters or newlines)."
  }

  validation {
    condition     = alltrue([for d in values(var.devices) : d.tariff == null || can(regex("^[A-Z]{3}$", d.tariff.currency))])
    error_message = "devices.<id>.tariff.currency must be an ISO 4217 code (three capitals, e.g. EUR)."
  }

  validation {
    condition     = alltrue([for d in values(var.devices) : d.tariff == null || (length(try(d.tariff.periods, [])) > 0 && alltrue([for p in try(d.tariff.periods, []) : can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", p.from)) && (p.to == null || can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", p.to)))]))])
    error_message = "devices.<id>.tariff.periods must be a non-empty list whose from/to are dates written YYYY-MM-DD."
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
  description = "Days before archived objects move to GLACIER (raw/ batch objects) or GLACIER_IR (days/ Parquet, which Athena can still read); at least 30 after STANDARD_IA. rejected/ never goes beyond STANDARD_IA, config/ never moves."
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
  description = "Alarm when the processor lags its buffer by more than this many milliseconds (Kinesis IteratorAge; with SQS the oldest message's age, rounded up to seconds)."
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

variable "enable_read_api" {
  description = "Deploy the hosted read API and dashboard (modules/read_api); it needs read_api_token."
  type        = bool
  default     = true
}

variable "read_api_token" {
  description = "Bearer token of the read API and dashboard (32-256 characters of letters, digits, '-', '_', '.', '~'; e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`). Only its SHA-256 reaches the function. Required while enable_read_api is true."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = !var.enable_read_api || var.read_api_token != null
    error_message = "enable_read_api is true (the default), so read_api_token is required: pass -var read_api_token=... (python -c 'import secrets; print(secrets.token_urlsafe(32))') or set enable_read_api = false."
  }

  validation {
    condition     = var.read_api_token == null || (length(coalesce(var.read_api_token, "x")) >= 32 && length(coalesce(var.read_api_token, "x")) <= 256 && can(regex("^[A-Za-z0-9._~-]+$", coalesce(var.read_api_token, "x"))))
    error_message = "read_api_token must be 32-256 characters of letters, digits, '-', '_', '.' or '~' (e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')."
  }
}

variable "read_api_throttling_burst_limit" {
  description = "Read API stage throttling: burst (requests at once) across all clients."
  type        = number
  default     = 20
}

variable "read_api_throttling_rate_limit" {
  description = "Read API stage throttling: steady requests per second across all clients."
  type        = number
  default     = 10
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

variable "alerts" {
  description = "Consumption alerts: the same rules and channels as the TOML [[alerts.rules]] / [[alerts.channels]] (README, Alerts), rendered into the settings document. An sns channel without topic_arn sends to this stack's consumption-alert topic. Webhook, ntfy and e-mail channels work from the Lambda too; their secrets are then in the settings object (KMS-encrypted)."
  type = object({
    rules = optional(list(object({
      name              = string
      kind              = string
      device            = optional(string, "*")
      channels          = optional(list(string), [])
      critical          = optional(bool)
      threshold_w       = optional(number)
      clear_w           = optional(number)
      for_s             = optional(number)
      percent_of_median = optional(number)
      night_start       = optional(string)
      night_end         = optional(string)
      percentile        = optional(number)
      median_days       = optional(number)
      period            = optional(string)
      budget_kwh        = optional(number)
      budget_cost       = optional(number)
      warn_at           = optional(number)
      weeks             = optional(number)
      k                 = optional(number)
      min_kwh           = optional(number)
    })), [])
    channels = optional(list(object({
      name      = string
      kind      = string
      topic_arn = optional(string)
      region    = optional(string)
      url       = optional(string)
      server    = optional(string)
      topic     = optional(string)
      priority  = optional(number)
      tags      = optional(list(string))
      token     = optional(string)
      host      = optional(string)
      port      = optional(number)
      starttls  = optional(bool)
      ssl       = optional(bool)
      username  = optional(string)
      password  = optional(string)
      from      = optional(string)
      to        = optional(list(string))
      quiet_hours = optional(object({
        start    = string
        end      = string
        timezone = string
      }))
    })), [])
  })
  default = {}

  validation {
    condition = alltrue([for r in var.alerts.rules : contains(
    ["power_above", "power_below", "no_data", "base_load_above", "energy_budget", "unusual_day"], r.kind)])
    error_message = "alerts.rules[*].kind must be one of power_above, power_below, no_data, base_load_above, energy_budget, unusual_day."
  }

  validation {
    condition     = length(distinct([for r in var.alerts.rules : r.name])) == length(var.alerts.rules) && alltrue([for r in var.alerts.rules : can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", r.name))])
    error_message = "alerts.rules[*].name must be unique, 1-64 letters, digits, '_', '.' or '-' (it names the MQTT topic and the incident key)."
  }

  validation {
    condition     = alltrue([for r in var.alerts.rules : r.device == "*" || can(regex("^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$", r.device))])
    error_message = "alerts.rules[*].device must be \"*\" (every device) or a device id of 1-128 letters, digits, '_' or '-'."
  }

  validation {
    condition     = alltrue([for r in var.alerts.rules : alltrue([for c in r.channels : contains([for ch in var.alerts.channels : ch.name], c)])])
    error_message = "Every channel a rule names (alerts.rules[*].channels) must be one of alerts.channels[*].name."
  }

  validation {
    condition     = alltrue([for c in var.alerts.channels : contains(["webhook", "ntfy", "email", "mqtt", "sns"], c.kind)]) && length(distinct([for c in var.alerts.channels : c.name])) == length(var.alerts.channels)
    error_message = "alerts.channels[*].kind must be one of webhook, ntfy, email, mqtt, sns, and every channel name must be unique."
  }

  validation {
    condition     = alltrue([for c in var.alerts.channels : c.topic_arn == null || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$", coalesce(c.topic_arn, "x")))])
    error_message = "alerts.channels[*].topic_arn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>), or left out for this stack's consumption-alert topic."
  }

  validation {
    condition     = alltrue([for r in var.alerts.rules : alltrue([for v in [r.threshold_w, r.clear_w, r.for_s, r.budget_kwh, r.budget_cost, r.min_kwh] : v == null || coalesce(v, 0) >= 0])])
    error_message = "alerts.rules[*] thresholds, for_s, budgets and min_kwh must not be negative."
  }
}
