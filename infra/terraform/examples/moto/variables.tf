variable "moto_endpoint" {
  description = "Base URL of the moto server every AWS service endpoint points to."
  type        = string
  default     = "http://127.0.0.1:5000"

  validation {
    condition     = can(regex("^https?://[^/]+$", var.moto_endpoint))
    error_message = "moto_endpoint must be a base URL such as http://127.0.0.1:5000 (no path)."
  }
}

variable "region" {
  description = "Region the emulated stack lives in."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Name of the stack (prefix of every resource)."
  type        = string
  default     = "energymon-moto"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = { Environment = "moto" }
}

variable "default_timezone" {
  description = "IANA time zone of devices that declare none."
  type        = string
  default     = "Europe/Amsterdam"
}

variable "devices" {
  description = "Per-device settings (see the root module's devices variable); each device is also an IoT thing."
  type        = any
  default = {
    "apt-12" = { timezone = "Europe/Berlin", label = "Apartment 12", max_power_w = 20000 }
    "apt-14" = {
      timezone    = "America/New_York"
      label       = "Flat 14 (north side)"
      max_power_w = 3000
      tariff = {
        currency = "CAD"
        periods  = [{ from = "2026-01-01", price_per_kwh = "0.17", standing_charge_per_day = "0.25" }]
      }
    }
  }
}

variable "things" {
  description = "Extra IoT thing settings (CSRs, attributes) on top of the devices' things (moto stores them)."
  type = map(object({
    attributes      = optional(map(string), {})
    certificate_csr = optional(string)
  }))
  default = {
    "apt-12" = { attributes = { apartment = "12" } }
  }
}

variable "lambda_zip_path" {
  description = "Path to a Lambda zip (moto stores it and never runs it)."
  type        = string
}

variable "alert_emails" {
  description = "E-mail addresses subscribed to the alert topic."
  type        = list(string)
  default     = ["ops@example.com"]
}

variable "alerts_schedule_expression" {
  description = "EventBridge schedule of the scheduled alert evaluator."
  type        = string
  default     = "rate(1 minute)"
}

variable "alert_emails_consumption" {
  description = "E-mail addresses subscribed to the consumption-alert topic."
  type        = list(string)
  default     = ["me@example.com"]
}

variable "batch_size" {
  description = "Records per processor invocation (1-10000)."
  type        = number
  default     = 100
}

variable "maximum_batching_window_in_seconds" {
  description = "Seconds to gather records before invoking the processor (0-300)."
  type        = number
  default     = 10
}

variable "read_api_token" {
  description = "Bearer token of the emulated read API (a throw-away test value by default)."
  type        = string
  default     = "moto-read-api-token-0123456789abcdefghij"
  sensitive   = true
  nullable    = true # tests pass null (a .tfvars.json) to see the root refuse a deploy without a token
}
