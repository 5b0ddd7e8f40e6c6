variable "queue_name" {
  description = "Name of the SQS queue that carries raw telemetry from the IoT topic rule to the processor (its dead-letter queue is <queue_name>-dlq)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,76}$", var.queue_name))
    error_message = "queue_name must be 1-76 letters, digits, '_' or '-' (SQS names are at most 80 characters, and the dead-letter queue adds -dlq)."
  }
}

variable "visibility_timeout_seconds" {
  description = "How long a message the processor received stays invisible to other receivers (0-43200 s). Lambda wants at least the function timeout; AWS recommends six times the timeout plus the batching window."
  type        = number

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200 && floor(var.visibility_timeout_seconds) == var.visibility_timeout_seconds
    error_message = "visibility_timeout_seconds must be a whole number between 0 and 43200 (12 hours)."
  }
}

variable "message_retention_seconds" {
  description = "How long an unprocessed message stays in the queue (60-1209600 s): the window to fix a stopped processor before readings are lost."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600 && floor(var.message_retention_seconds) == var.message_retention_seconds
    error_message = "message_retention_seconds must be a whole number between 60 and 1209600 (14 days)."
  }
}

variable "max_receive_count" {
  description = "Receives of a message the processor keeps failing before it moves to the dead-letter queue (1-1000)."
  type        = number
  default     = 6

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number between 1 and 1000 (SQS redrive policy limit)."
  }
}

variable "dlq_message_retention_seconds" {
  description = "How long messages stay in the dead-letter queue (60-1209600 s): set it to the maximum so there is time to look at them and redrive."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600 && floor(var.dlq_message_retention_seconds) == var.dlq_message_retention_seconds
    error_message = "dlq_message_retention_seconds must be a whole number between 60 and 1209600 (14 days)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer managed KMS key of both queues, or null for SSE-SQS (SQS-owned keys: no key to pay for, and producers and consumers need no KMS permission)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null (SSE-SQS) or a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "tags" {
  description = "Tags applied to every resource of this module."
  type        = map(string)
  default     = {}
}
