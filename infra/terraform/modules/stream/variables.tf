variable "stream_name" {
  description = "Name of the Kinesis data stream that carries raw telemetry from the IoT topic rule to the processor."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{1,128}$", var.stream_name))
    error_message = "stream_name must be 1-128 characters of letters, digits, '_', '.' or '-'."
  }
}

variable "stream_mode" {
  description = "Capacity mode of the stream: PROVISIONED (pay per shard-hour, cheapest for one apartment) or ON_DEMAND (scales itself, higher floor price)."
  type        = string
  default     = "PROVISIONED"

  validation {
    condition     = contains(["PROVISIONED", "ON_DEMAND"], var.stream_mode)
    error_message = "stream_mode must be PROVISIONED or ON_DEMAND."
  }
}

variable "shard_count" {
  description = "Number of shards when stream_mode is PROVISIONED (ignored for ON_DEMAND). One shard takes 1 MiB/s or 1,000 records/s of writes."
  type        = number
  default     = 1

  validation {
    condition     = var.shard_count >= 1 && var.shard_count <= 500 && floor(var.shard_count) == var.shard_count
    error_message = "shard_count must be a whole number between 1 and 500."
  }
}

variable "retention_period_hours" {
  description = "How long records stay in the stream, in hours (24-8760). Failed batches must be re-read from the stream within this window."
  type        = number
  default     = 24

  validation {
    condition     = var.retention_period_hours >= 24 && var.retention_period_hours <= 8760 && floor(var.retention_period_hours) == var.retention_period_hours
    error_message = "retention_period_hours must be a whole number of hours between 24 and 8760 (365 days)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer managed KMS key that encrypts the stream at rest, or null for the AWS managed key aws/kinesis (no monthly key fee)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be null (AWS managed keys) or a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "shard_level_metrics" {
  description = "Enhanced shard-level CloudWatch metrics to enable (each costs extra). Stream-level metrics used by the alarms are always on."
  type        = list(string)
  default     = []

  validation {
    condition = alltrue([for m in var.shard_level_metrics : contains([
      "IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
      "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded",
      "IteratorAgeMilliseconds", "ALL",
    ], m)])
    error_message = "shard_level_metrics may only contain Kinesis shard-level metric names (IncomingBytes, IncomingRecords, OutgoingBytes, OutgoingRecords, WriteProvisionedThroughputExceeded, ReadProvisionedThroughputExceeded, IteratorAgeMilliseconds, ALL)."
  }
}

variable "tags" {
  description = "Tags applied to every resource of this module."
  type        = map(string)
  default     = {}
}
