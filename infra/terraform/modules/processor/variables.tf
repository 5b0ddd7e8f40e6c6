variable "function_name" {
  description = "Name of the processor Lambda function (also names its role, log group and on-failure queue)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,60}$", var.function_name))
    error_message = "function_name must be 1-60 characters of letters, digits, '_' or '-' (the '-dlq' and '-role' suffixes need the rest of the 64/80 limits)."
  }
}

variable "lambda_zip_path" {
  description = "Path to the deployment zip built by `energymon package-lambda --output build/energymon-lambda.zip`."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must point to a .zip file built by `energymon package-lambda`."
  }
}

variable "handler" {
  description = "Python import path of the Lambda handler."
  type        = string
  default     = "energymon.runtimes.lambda_handler.handler"

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.]*\\.[A-Za-z_][A-Za-z0-9_]*$", var.handler))
    error_message = "handler must be a dotted Python path such as energymon.runtimes.lambda_handler.handler."
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
  description = "Memory of the function in MB (CPU scales with it)."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "timeout_seconds" {
  description = "Function timeout in seconds."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout_seconds >= 1 && var.timeout_seconds <= 900 && floor(var.timeout_seconds) == var.timeout_seconds
    error_message = "timeout_seconds must be a whole number between 1 and 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for (and capping) the processor; -1 (the default) for no reservation. AWS keeps 100 executions of the account unreserved and new accounts may have a total quota of 10-50, so any reservation fails there. Kinesis needs at most shards x parallelization_factor."
  type        = number
  default     = -1

  validation {
    condition     = var.reserved_concurrent_executions == -1 || (var.reserved_concurrent_executions >= 1 && var.reserved_concurrent_executions <= 1000)
    error_message = "reserved_concurrent_executions must be -1 (unreserved) or between 1 and 1000; 0 would throttle every invocation."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: PassThrough (no extra permissions) or Active (adds xray:PutTraceSegments/PutTelemetryRecords, which take no resource ARNs)."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be PassThrough or Active."
  }
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group in days."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of the CloudWatch Logs values: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "event_source" {
  description = "What the event source mapping reads: kinesis (stream_arn) or sqs (queue_arn)."
  type        = string
  default     = "kinesis"

  validation {
    condition     = contains(["kinesis", "sqs"], var.event_source)
    error_message = "event_source must be kinesis or sqs."
  }
}

variable "stream_arn" {
  description = "ARN of the Kinesis stream the event source mapping reads (event_source = kinesis)."
  type        = string
  default     = null

  validation {
    condition     = var.stream_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kinesis:[a-z0-9-]+:[0-9]{12}:stream/.+$", coalesce(var.stream_arn, "x")))
    error_message = "stream_arn must be a Kinesis stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)."
  }

  validation {
    condition     = (var.event_source == "kinesis") == (var.stream_arn != null)
    error_message = "stream_arn is required with event_source = kinesis and must be null with event_source = sqs."
  }
}

variable "queue_arn" {
  description = "ARN of the SQS queue the event source mapping reads (event_source = sqs)."
  type        = string
  default     = null

  validation {
    condition     = var.queue_arn == null || can(regex("^arn:aws[a-zA-Z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}$", coalesce(var.queue_arn, "x")))
    error_message = "queue_arn must be a standard SQS queue ARN (arn:aws:sqs:<region>:<account>:<name>)."
  }

  validation {
    condition     = (var.event_source == "sqs") == (var.queue_arn != null)
    error_message = "queue_arn is required with event_source = sqs and must be null with event_source = kinesis."
  }
}

variable "sqs_maximum_concurrency" {
  description = "With event_source = sqs: the most concurrent invocations the mapping starts (2-1000)."
  type        = number
  default     = 2

  validation {
    condition     = var.sqs_maximum_concurrency >= 2 && var.sqs_maximum_concurrency <= 1000 && floor(var.sqs_maximum_concurrency) == var.sqs_maximum_concurrency
    error_message = "sqs_maximum_concurrency must be a whole number between 2 and 1000."
  }
}

variable "metrics_mode" {
  description = "How the handler emits metrics (METRICS_MODE): emf, emf_lean (three EMF metrics) log_filters (JSON log lines and this module's log metric filters) or logs_only (the JSON log lines only: no custom metric)."
  type        = string
  default     = "emf"

  validation {
    condition     = contains(["emf", "emf_lean", "log_filters", "logs_only"], var.metrics_mode)
    error_message = "metrics_mode must be emf, emf_lean, log_filters or logs_only."
  }
}

variable "archive_mode" {
  description = "How the handler archives raw readings (ENERGYMON_ARCHIVE_MODE): per_batch (an S3 object per batch) or scheduled (a marker item per UTC hour and device in the table; the archiver writes the objects on its schedule, and the role may put objects under rejected/ only)."
  type        = string
  default     = "per_batch"

  validation {
    condition     = contains(["per_batch", "scheduled"], var.archive_mode)
    error_message = "archive_mode must be per_batch or scheduled."
  }
}

variable "batch_size" {
  description = "Maximum records per Lambda invocation (1-10000; SQS above 10 only with a batching window)."
  type        = number
  default     = 100

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size must be a whole number between 1 and 10000 (Kinesis event source mapping limit)."
  }

  validation {
    condition     = var.event_source != "sqs" || var.batch_size <= 10 || var.maximum_batching_window_in_seconds >= 1
    error_message = "With event_source = sqs, a batch_size above 10 needs maximum_batching_window_in_seconds of at least 1 (Lambda refuses it otherwise)."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "How long the event source mapping gathers records before invoking, in seconds (0-300)."
  type        = number
  default     = 10

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300 && floor(var.maximum_batching_window_in_seconds) == var.maximum_batching_window_in_seconds
    error_message = "maximum_batching_window_in_seconds must be a whole number of seconds between 0 and 300."
  }
}

variable "parallelization_factor" {
  description = "Concurrent batches per shard (1-10); order is kept per partition key (device)."
  type        = number
  default     = 1

  validation {
    condition     = var.parallelization_factor >= 1 && var.parallelization_factor <= 10 && floor(var.parallelization_factor) == var.parallelization_factor
    error_message = "parallelization_factor must be a whole number between 1 and 10."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before it goes to the on-failure queue. Bounded on purpose: -1 (infinite) would let one poison record block a shard."
  type        = number
  default     = 5

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 10000 && floor(var.maximum_retry_attempts) == var.maximum_retry_attempts
    error_message = "maximum_retry_attempts must be a whole number between 0 and 10000 (-1, infinite retries, is not allowed: one poison record would block its shard)."
  }
}

variable "maximum_record_age_in_seconds" {
  description = "Records older than this are sent to the on-failure queue instead of being retried (60-604800). Bounded on purpose, like maximum_retry_attempts."
  type        = number
  default     = 3600

  validation {
    condition     = var.maximum_record_age_in_seconds >= 60 && var.maximum_record_age_in_seconds <= 604800 && floor(var.maximum_record_age_in_seconds) == var.maximum_record_age_in_seconds
    error_message = "maximum_record_age_in_seconds must be a whole number between 60 and 604800 (-1, unbounded, is not allowed)."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long failed-batch records stay in the on-failure SQS queue (60-1209600 s)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "table_name" {
  description = "Name of the DynamoDB table (ENERGYMON_TABLE_NAME)."
  type        = string
}

variable "table_arn" {
  description = "ARN of the DynamoDB table the function reads and writes."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-zA-Z-]*:dynamodb:[a-z0-9-]+:[0-9]{12}:table/.+$", var.table_arn))
    error_message = "table_arn must be a DynamoDB table ARN."
  }
}

variable "archive_bucket_name" {
  description = "Name of the S3 archive bucket (ENERGYMON_ARCHIVE_BUCKET)."
  type        = string
}

variable "archive_bucket_arn" {
  description = "ARN of the S3 archive bucket; the function may read and write its objects."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-zA-Z-]*:s3:::[a-z0-9.-]+$", var.archive_bucket_arn))
    error_message = "archive_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::<bucket>)."
  }
}

variable "alert_topic_arn" {
  description = "ARN of the SNS topic for user-facing alerts (ENERGYMON_ALERT_TOPIC_ARN)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-zA-Z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$", var.alert_topic_arn))
    error_message = "alert_topic_arn must be an SNS topic ARN."
  }
}

variable "settings_object_key" {
  description = "Key, in the archive bucket, of the shared settings document (zones, tariffs, energy limits per device) the handler loads at cold start (ENERGYMON_SETTINGS_KEY)."
  type        = string
  default     = "config/settings.json"

  validation {
    condition     = can(regex("^[A-Za-z0-9!_.*'()/-]+$", var.settings_object_key)) && length(var.settings_object_key) <= 1024 && !startswith(var.settings_object_key, "/")
    error_message = "settings_object_key must be an S3 key of 1-1024 safe characters (letters, digits, ! _ . * ' ( ) / -), not starting with /."
  }
}

variable "settings_object_sha256" {
  description = "Hex SHA-256 of the settings document's content (ENERGYMON_SETTINGS_SHA256): the handler refuses a document that does not match, and a changed document changes the function configuration so new containers load it."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{64}$", var.settings_object_sha256))
    error_message = "settings_object_sha256 must be 64 lowercase hex digits (Terraform's sha256() of the document)."
  }
}

variable "powertools_service_name" {
  description = "Service name in structured logs and metrics (POWERTOOLS_SERVICE_NAME)."
  type        = string
  default     = "energymon"

  validation {
    condition     = length(var.powertools_service_name) > 0
    error_message = "powertools_service_name must not be empty."
  }
}

variable "powertools_metrics_namespace" {
  description = "CloudWatch namespace of the EMF metrics (POWERTOOLS_METRICS_NAMESPACE)."
  type        = string
  default     = "Energymon"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#:-]{1,255}$", var.powertools_metrics_namespace)) && !startswith(var.powertools_metrics_namespace, "AWS/")
    error_message = "powertools_metrics_namespace must be 1-255 characters of letters, digits or . _ / # : - and must not start with AWS/."
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

variable "kms_key_arn" {
  description = "ARN of the customer managed KMS key for this module's resources (log group, environment variables, on-failure queue), or null for AWS managed keys (log group and environment) and SSE-SQS (queue)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null (AWS managed keys) or a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "additional_kms_key_arns" {
  description = "KMS keys of the resources the function uses but does not own (stream, alert topic) if they differ from kms_key_arn."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for k in var.additional_kms_key_arns : can(regex("^arn:aws[a-zA-Z-]*:kms:", k))])
    error_message = "additional_kms_key_arns must only contain KMS key ARNs."
  }
}

variable "tags" {
  description = "Tags applied to every resource of this module."
  type        = map(string)
  default     = {}
}

variable "raw_retention_days" {
  description = "Days raw readings stay in the table after their write (DynamoDB TTL on minute items, set by the handler); minute, hour, day and month rollups stay forever. The root module checks it against the recompute reach."
  type        = number
  default     = 90

  validation {
    condition     = var.raw_retention_days > 0
    error_message = "raw_retention_days must be a positive number of days."
  }
}
