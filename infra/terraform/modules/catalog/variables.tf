variable "database_name" {
  description = "Glue database of the archive's tables (Athena: SELECT ... FROM <database_name>.readings)."
  type        = string

  validation {
    # Athena wants lowercase letters, digits and '_' only in database and table names; Glue allows 255.
    condition     = can(regex("^[a-z0-9_]{1,255}$", var.database_name))
    error_message = "database_name must be 1-255 lowercase letters, digits or '_' (Athena refuses '-' and capitals)."
  }
}

variable "archive_bucket_name" {
  description = "The archive bucket whose days/ prefix holds one Parquet file per UTC date (days/date=YYYY-MM-DD/readings.parquet)."
  type        = string
}

variable "first_date" {
  description = "Earliest date the partition projection offers (YYYY-MM-DD); dates without a file read as empty."
  type        = string
  default     = "2024-01-01"

  validation {
    condition     = can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", var.first_date)) && can(formatdate("YYYY", "${var.first_date}T00:00:00Z"))
    error_message = "first_date must be a date written YYYY-MM-DD."
  }
}

variable "tags" {
  description = "Tags applied to the Glue database."
  type        = map(string)
  default     = {}
}
