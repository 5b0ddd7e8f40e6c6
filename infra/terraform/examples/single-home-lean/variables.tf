variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "endpoint" {
  description = "Base URL of an AWS emulator (a moto server) every service endpoint points to; null for real AWS."
  type        = string
  default     = null

  validation {
    condition     = var.endpoint == null || can(regex("^https?://[^/]+$", coalesce(var.endpoint, "x")))
    error_message = "endpoint must be null (real AWS) or a base URL such as http://127.0.0.1:5000 (no path)."
  }
}

variable "name" {
  description = "Name of the stack (prefix of every resource)."
  type        = string
  default     = "energymon-home"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = { Environment = "home", Profile = "lean" }
}

variable "device_id" {
  description = "Thing name of the metering box (= MQTT client id = device_id in its payloads)."
  type        = string
  default     = "home-1"
}

variable "home_label" {
  description = "Label of the home (shown to people; stored on the thing with spaces turned into _)."
  type        = string
  default     = "Home"
}

variable "tariff" {
  description = "The home's tariff (see the root module's tariff variable); null: no cost is computed."
  type        = any
  default     = null
}

variable "default_timezone" {
  description = "IANA time zone of the home."
  type        = string
  default     = "Europe/Amsterdam"
}

variable "metrics_mode" {
  description = "logs_only (metrics as JSON log lines only: no custom metric, the cheapest), emf_lean (three EMF metrics) or log_filters (the same three from log metric filters, no EMF)."
  type        = string
  default     = "logs_only"

  validation {
    condition     = contains(["logs_only", "emf_lean", "log_filters"], var.metrics_mode)
    error_message = "metrics_mode must be logs_only, emf_lean or log_filters in the lean example (emf is the fleet profile's)."
  }
}

variable "lambda_zip_path" {
  description = "Path to the zip built by `energymon package-lambda --output build/energymon-lambda.zip`."
  type        = string
}

variable "alert_emails" {
  description = "E-mail addresses that receive alarms."
  type        = list(string)
  default     = []
}

variable "batch_size" {
  description = "Messages per processor invocation (1-10000; above 10 needs a batching window of at least 1 s)."
  type        = number
  default     = 100
}

variable "maximum_batching_window_in_seconds" {
  description = "Seconds the SQS mapping gathers messages before invoking the processor (0-300)."
  type        = number
  default     = 60
}

variable "enable_read_api" {
  description = "Deploy the hosted read API and dashboard (paid per request: no idle cost); needs read_api_token."
  type        = bool
  default     = true
}

variable "read_api_token" {
  description = "Bearer token of the hosted dashboard/read API (32+ characters: python -c 'import secrets; print(secrets.token_urlsafe(32))'); only its SHA-256 reaches AWS."
  type        = string
  default     = null
  sensitive   = true
}

variable "manage_iot_policy" {
  description = "Create the device IoT policy; false only on moto (it cannot tag IoT resources)."
  type        = bool
  default     = true
}

variable "manage_iot_topic_rule" {
  description = "Create the IoT topic rule; false only on moto (it cannot tag IoT resources)."
  type        = bool
  default     = true
}

variable "table_deletion_protection" {
  description = "Protect the DynamoDB table against deletion (false only for throw-away stacks)."
  type        = bool
  default     = true
}

variable "archive_force_destroy" {
  description = "Let terraform destroy empty the archive bucket (true only for throw-away stacks)."
  type        = bool
  default     = false
}

variable "archive_interval_minutes" {
  description = "Minutes between archiver runs (5-1440; the root module checks): each run archives the UTC hours closed since the last one."
  type        = number
  default     = 60
}
