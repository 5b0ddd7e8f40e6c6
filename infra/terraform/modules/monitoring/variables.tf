variable "name_prefix" {
  description = "Prefix of the alarm and dashboard names."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,64}$", var.name_prefix))
    error_message = "name_prefix must be 1-64 letters, digits, '_' or '-'."
  }
}

variable "alert_topic_name" {
  description = "Name of the SNS topic that receives alarms and the processor's alerts."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,256}$", var.alert_topic_name))
    error_message = "alert_topic_name must be 1-256 letters, digits, '_' or '-'."
  }
}

variable "alert_emails" {
  description = "E-mail addresses subscribed to the alert topic (each must confirm the subscription mail)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alert_emails : can(regex("^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}$", e))])
    error_message = "Every entry of alert_emails must be a valid e-mail address such as ops@example.com."
  }

  validation {
    condition     = length(var.alert_emails) == length(distinct(var.alert_emails))
    error_message = "alert_emails must not contain duplicates."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer managed KMS key that encrypts the alert topic (its key policy must let cloudwatch.amazonaws.com use it), or null: the topic is then unencrypted, because CloudWatch alarms cannot publish to a topic under the AWS managed key aws/sns (it carries alarm state changes only)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null (AWS managed keys) or a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "function_name" {
  description = "Name of the processor Lambda function to watch."
  type        = string
}

variable "archiver_function_name" {
  description = "Name of the archiver Lambda function (modules/archive) to watch for errors, or null for no archiver alarm."
  type        = string
  default     = null
}

variable "buffer" {
  description = "What carries telemetry to the processor: kinesis (stream_name) or sqs (queue_name)."
  type        = string
  default     = "kinesis"

  validation {
    condition     = contains(["kinesis", "sqs"], var.buffer)
    error_message = "buffer must be kinesis or sqs."
  }
}

variable "alarm_profile" {
  description = "full: every alarm; lean: only those that protect data (processor errors, the oldest record's age, the dead-letter queue, the IoT rule's error action, and with Kinesis its write throttling and silent stop)."
  type        = string
  default     = "full"

  validation {
    condition     = contains(["full", "lean"], var.alarm_profile)
    error_message = "alarm_profile must be full or lean."
  }
}

variable "stream_name" {
  description = "Name of the Kinesis stream to watch (buffer = kinesis)."
  type        = string
  default     = null

  validation {
    condition     = (var.buffer == "kinesis") == (var.stream_name != null)
    error_message = "stream_name is required with buffer = kinesis and must be null with buffer = sqs."
  }
}

variable "queue_name" {
  description = "Name of the SQS telemetry queue to watch (buffer = sqs)."
  type        = string
  default     = null

  validation {
    condition     = (var.buffer == "sqs") == (var.queue_name != null)
    error_message = "queue_name is required with buffer = sqs and must be null with buffer = kinesis."
  }
}

variable "table_name" {
  description = "Name of the DynamoDB table to watch."
  type        = string
}

variable "dlq_name" {
  description = "Name of the queue that holds what the processor failed on: the Kinesis mapping's on-failure queue, or the SQS telemetry queue's dead-letter queue."
  type        = string
}

variable "create_iot_rule_alarm" {
  description = "Create the IoT topic rule alarms (action Failure, ParseError, ErrorActionFailure) (false only when the rule itself is not managed, as in the moto example)."
  type        = bool
  default     = true
}

variable "iot_topic_rule_name" {
  description = "Name of the IoT topic rule to watch (used when create_iot_rule_alarm is true)."
  type        = string
  default     = null

  validation {
    condition     = var.iot_topic_rule_name == null || can(regex("^[a-zA-Z0-9_]{1,128}$", var.iot_topic_rule_name))
    error_message = "iot_topic_rule_name must be null or 1-128 letters, digits or underscores."
  }
}

variable "dynamodb_operations" {
  description = "DynamoDB operations whose ThrottledRequests are summed by the table throttle alarm (at most 9): the ones energymon's code calls."
  type        = list(string)
  default     = ["BatchGetItem", "BatchWriteItem", "GetItem", "PutItem", "Query", "TransactWriteItems", "UpdateItem"]

  validation {
    condition     = length(var.dynamodb_operations) >= 1 && length(var.dynamodb_operations) <= 9
    error_message = "dynamodb_operations must list 1 to 9 operations (an alarm takes at most 10 metrics, one being the sum)."
  }
}

variable "silent_stop_evaluation_periods" {
  description = "Consecutive periods with stream records and no processor invocation before the silent-stop alarm fires (at least 2 when the batching window can carry records into the next period)."
  type        = number
  default     = 2

  validation {
    condition     = var.silent_stop_evaluation_periods >= 1 && var.silent_stop_evaluation_periods <= 24 && floor(var.silent_stop_evaluation_periods) == var.silent_stop_evaluation_periods
    error_message = "silent_stop_evaluation_periods must be a whole number between 1 and 24."
  }
}

variable "iterator_age_alarm_threshold_ms" {
  description = "Alarm when the processor's IteratorAge (Kinesis) or the queue's ApproximateAgeOfOldestMessage (SQS, rounded up to seconds) exceeds this many milliseconds."
  type        = number
  default     = 300000

  validation {
    condition     = var.iterator_age_alarm_threshold_ms >= 1000 && var.iterator_age_alarm_threshold_ms <= 604800000
    error_message = "iterator_age_alarm_threshold_ms must be between 1000 (1 s) and 604800000 (7 days)."
  }
}

variable "alarm_period_seconds" {
  description = "Period of every alarm in seconds (60 or a multiple of 60)."
  type        = number
  default     = 300

  validation {
    condition     = var.alarm_period_seconds >= 60 && var.alarm_period_seconds <= 86400 && var.alarm_period_seconds % 60 == 0
    error_message = "alarm_period_seconds must be a multiple of 60 between 60 and 86400."
  }
}

variable "alarm_evaluation_periods" {
  description = "Consecutive breaching periods before an alarm fires."
  type        = number
  default     = 1

  validation {
    condition     = var.alarm_evaluation_periods >= 1 && var.alarm_evaluation_periods <= 24 && floor(var.alarm_evaluation_periods) == var.alarm_evaluation_periods
    error_message = "alarm_evaluation_periods must be a whole number between 1 and 24."
  }
}

variable "create_dashboard" {
  description = "Create the CloudWatch dashboard."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags applied to every taggable resource of this module."
  type        = map(string)
  default     = {}
}
