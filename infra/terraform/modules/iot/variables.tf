variable "things" {
  description = "IoT things (one per metering box), keyed by thing name = MQTT client id = device_id. certificate_csr: PEM CSR made on the device (its private key never leaves it); without one, no certificate is registered here."
  type = map(object({
    attributes      = optional(map(string), {})
    certificate_csr = optional(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for name in keys(var.things) : can(regex("^[a-zA-Z0-9_-]{1,128}$", name))])
    error_message = "Every key of things must be a thing name of 1-128 letters, digits, '_' or '-' (it is also the MQTT client id and the device_id in the topic)."
  }

  validation {
    condition     = alltrue([for t in values(var.things) : t.certificate_csr == null || can(regex("-----BEGIN CERTIFICATE REQUEST-----", t.certificate_csr))])
    error_message = "certificate_csr must be a PEM certificate signing request (-----BEGIN CERTIFICATE REQUEST-----)."
  }

  # CreateThing without a thing type takes at most 3 attributes; names 1-128 and values 0-800 characters
  # of IoT's AttributePayload charset (no spaces). Real IoT refuses anything else at apply; moto does not.
  validation {
    condition     = alltrue([for t in values(var.things) : length(t.attributes) <= 3])
    error_message = "An IoT thing without a thing type may have at most 3 attributes."
  }

  validation {
    condition = alltrue(flatten([for t in values(var.things) : [for k, v in t.attributes :
    can(regex("^[a-zA-Z0-9_.,@/:#-]{1,128}$", k)) && can(regex("^[a-zA-Z0-9_.,@/:#=\\[\\]-]{0,800}$", v))]]))
    error_message = "IoT thing attribute names must be 1-128 and values at most 800 of the characters a-z A-Z 0-9 _ . , @ / : # - (values also = [ ]); no spaces."
  }
}

variable "topic_root" {
  description = "First MQTT topic level of device telemetry: devices publish to <topic_root>/<thing name>/telemetry."
  type        = string
  default     = "energy"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]+$", var.topic_root))
    error_message = "topic_root must be a single topic level of letters, digits, '_' or '-' (no '/', '+' or '#')."
  }
}

variable "basic_ingest" {
  description = "Let devices publish through Basic Ingest: $aws/rules/<topic_rule_name>/<topic_root>/<thing>/telemetry invokes the topic rule without the message broker, so IoT Core bills no messaging (the rule's trigger and action still are). The agent's basic_ingest_rule setting publishes there."
  type        = bool
  default     = true
}

variable "broker_topic" {
  description = "Let devices publish to the broker topic <topic_root>/<thing>/* as well (metered per 5 KB message; subscribers such as the console's MQTT test client see it). Turn off once every device uses Basic Ingest."
  type        = bool
  default     = true

  validation {
    condition     = var.broker_topic || var.basic_ingest
    error_message = "broker_topic and basic_ingest cannot both be false: the device policy would allow no publish at all."
  }
}

variable "device_policy_name" {
  description = "Name of the IoT policy attached to the device certificates."
  type        = string

  validation {
    condition     = can(regex("^[\\w+=,.@-]{1,128}$", var.device_policy_name))
    error_message = "device_policy_name must be 1-128 characters of letters, digits or + = , . @ _ -."
  }
}

variable "topic_rule_name" {
  description = "Name of the IoT topic rule (letters, digits and underscores only)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_]{1,128}$", var.topic_rule_name))
    error_message = "topic_rule_name must be 1-128 letters, digits or underscores (IoT rule names allow no '-')."
  }
}

variable "manage_iot_policy" {
  description = "Create the device IoT policy and attach it to the certificates. Always true in real deployments; only the moto example turns it off because moto cannot tag IoT resources."
  type        = bool
  default     = true
}

variable "manage_topic_rule" {
  description = "Create the IoT topic rule. Always true in real deployments; only the moto example turns it off because moto cannot tag IoT resources (and never runs rules)."
  type        = bool
  default     = true
}

variable "buffer" {
  description = "Where the topic rule sends telemetry: kinesis (stream_name, partitioned by device) or sqs (queue_url, the IoT rule's SQS action)."
  type        = string
  default     = "kinesis"

  validation {
    condition     = contains(["kinesis", "sqs"], var.buffer)
    error_message = "buffer must be kinesis or sqs."
  }
}

variable "stream_name" {
  description = "Name of the Kinesis stream the topic rule writes to (buffer = kinesis)."
  type        = string
  default     = null
}

variable "stream_arn" {
  description = "ARN of the Kinesis stream; the rule's role may only PutRecord to it (buffer = kinesis)."
  type        = string
  default     = null

  validation {
    condition     = var.stream_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kinesis:[a-z0-9-]+:[0-9]{12}:stream/.+$", coalesce(var.stream_arn, "x")))
    error_message = "stream_arn must be a Kinesis stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>)."
  }

  validation {
    condition     = (var.buffer == "kinesis") == (var.stream_arn != null)
    error_message = "stream_arn is required with buffer = kinesis and must be null with buffer = sqs."
  }
}

variable "stream_kms_key_arn" {
  description = "ARN of the customer managed KMS key that encrypts the stream (the rule's role needs kms:GenerateDataKey on it), or null for the AWS managed aws/kinesis key."
  type        = string
  default     = null

  validation {
    condition     = var.stream_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", coalesce(var.stream_kms_key_arn, "x")))
    error_message = "stream_kms_key_arn must be null or a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "queue_url" {
  description = "URL of the SQS telemetry queue the topic rule sends to (buffer = sqs)."
  type        = string
  default     = null
}

variable "queue_arn" {
  description = "ARN of the SQS telemetry queue; the rule's role may only SendMessage to it (buffer = sqs)."
  type        = string
  default     = null

  validation {
    condition     = (var.buffer == "sqs") == (var.queue_arn != null)
    error_message = "queue_arn is required with buffer = sqs and must be null with buffer = kinesis."
  }
}

variable "queue_kms_key_arn" {
  description = "ARN of the customer managed KMS key of the queue (the rule's role needs kms:GenerateDataKey and kms:Decrypt on it), or null under SSE-SQS."
  type        = string
  default     = null

  validation {
    condition     = var.queue_kms_key_arn == null || can(regex("^arn:aws[a-zA-Z-]*:kms:", coalesce(var.queue_kms_key_arn, "x")))
    error_message = "queue_kms_key_arn must be null or a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "error_bucket_name" {
  description = "S3 bucket where the rule's error action writes messages it could not deliver."
  type        = string
}

variable "error_bucket_arn" {
  description = "ARN of error_bucket_name; the rule's role may only PutObject under error_key_prefix."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-zA-Z-]*:s3:::[a-z0-9.-]+$", var.error_bucket_arn))
    error_message = "error_bucket_arn must be an S3 bucket ARN (arn:aws:s3:::<bucket>)."
  }
}

variable "error_key_prefix" {
  description = "Key prefix (ending in '/') for messages the rule could not deliver."
  type        = string
  default     = "rejected/"

  validation {
    condition     = can(regex("^[a-zA-Z0-9!_.*'()-]+(/[a-zA-Z0-9!_.*'()-]+)*/$", var.error_key_prefix))
    error_message = "error_key_prefix must be a non-empty S3 key prefix ending in '/', e.g. rejected/."
  }
}

variable "tags" {
  description = "Tags applied to every taggable resource of this module."
  type        = map(string)
  default     = {}
}
