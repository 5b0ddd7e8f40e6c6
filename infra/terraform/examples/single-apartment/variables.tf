variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Name of the stack (prefix of every resource)."
  type        = string
  default     = "energymon"
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = { Environment = "home" }
}

variable "device_id" {
  description = "Thing name of the metering box (= MQTT client id = device_id in its payloads)."
  type        = string
  default     = "apt-12"
}

variable "apartment" {
  description = "Apartment label (shown to people; stored on the thing with spaces turned into _)."
  type        = string
  default     = "12"
}

variable "device_certificate_csr" {
  description = "PEM CSR generated on the box; null registers no certificate (provision it later)."
  type        = string
  default     = null
}

variable "lambda_zip_path" {
  description = "Path to the zip built by `energymon package-lambda --output build/energymon-lambda.zip`."
  type        = string
}

variable "alert_emails" {
  description = "E-mail addresses that receive alarms and alerts."
  type        = list(string)
  default     = []
}

variable "tariff" {
  description = "The apartment's tariff (see the root module's tariff variable); null: no cost is computed."
  type        = any
  default     = null
}

variable "default_timezone" {
  description = "IANA time zone of the apartment."
  type        = string
  default     = "Europe/Amsterdam"
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
  description = "Bearer token of the hosted dashboard/read API (32+ characters: python -c 'import secrets; print(secrets.token_urlsafe(32))'); only its SHA-256 reaches AWS."
  type        = string
  sensitive   = true
}
