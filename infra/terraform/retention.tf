# --- Raw-reading retention (issue #14): DynamoDB TTL on the minute items, rollups kept forever ----------

variable "raw_retention_days" {
  description = "Days raw readings stay in DynamoDB (TTL on the minute items, set by the handler); minute/hour/day/month rollups stay forever and the S3 archive keeps every reading. At least 43 + stream_retention_hours / 24 (44 with the default stream)."
  type        = number
  default     = 90

  validation {
    condition     = var.raw_retention_days > 0
    error_message = "raw_retention_days must be a positive number of days."
  }

  validation {
    # The same rule as energymon.processing.retention: a reading may arrive 35 days late, wait the stream's
    # retention, and its recompute reads 7 days further back; one more day of slack.
    condition     = var.raw_retention_days <= 0 || var.raw_retention_days >= 43 + var.stream_retention_hours / 24
    error_message = "raw_retention_days is shorter than the processor's recompute reach: a reading may arrive 35 days late, wait stream_retention_hours in the stream, and its recompute reads 7 days further back; use at least 43 + stream_retention_hours / 24 days (44 with a 24-hour stream)."
  }
}

# --- The archiver: opener pinning and Parquet compaction on a schedule --------------------------------

variable "archiver_schedule_expression" {
  description = "When the archiver runs (modules/archive) with archive_mode = per_batch: more often than every two days; hourly by default. With archive_mode = scheduled, archive_interval_minutes sets it."
  type        = string
  default     = "rate(1 hour)"
}

variable "archive_mode" {
  description = "How raw readings reach the S3 archive: per_batch (the processor puts one object per batch: the per-batch replay objects, 1 PUT per batch) or scheduled (the processor writes a small marker item per UTC hour and device to the table, about once an hour per device and processor container; the archiver, every archive_interval_minutes, reads each closed hour back from the minute items and puts one object per UTC date). Both archive exactly the same readings."
  type        = string
  default     = "per_batch"

  validation {
    condition     = contains(["per_batch", "scheduled"], var.archive_mode)
    error_message = "archive_mode must be per_batch or scheduled."
  }
}

variable "archive_interval_minutes" {
  description = "With archive_mode = scheduled: minutes between archiver runs (5-1440), rate(N minutes). A UTC hour is archived by the first run after it closes, so values under 60 only shorten that wait. Ignored with per_batch (archiver_schedule_expression)."
  type        = number
  default     = 60

  validation {
    condition     = var.archive_interval_minutes >= 5 && var.archive_interval_minutes <= 1440 && floor(var.archive_interval_minutes) == var.archive_interval_minutes
    error_message = "archive_interval_minutes must be a whole number of minutes between 5 and 1440 (the archiver must run at least daily: the minute items it reads expire with raw_retention_days)."
  }
}

variable "archiver_layers" {
  description = "Lambda layers giving the archiver pyarrow (the processor's zip leaves it out)."
  type        = list(string)
  default     = []
}

module "archive" {
  source = "./modules/archive"

  function_name          = local.archiver_function_name
  lambda_zip_path        = var.lambda_zip_path
  layers                 = var.archiver_layers
  runtime                = var.lambda_runtime
  tracing_mode           = var.lambda_tracing_mode
  log_retention_days     = var.log_retention_days
  schedule_expression    = var.archive_mode == "scheduled" ? "rate(${var.archive_interval_minutes} minutes)" : var.archiver_schedule_expression
  raw_retention_days     = var.raw_retention_days
  stream_retention_hours = var.stream_retention_hours

  table_name          = module.storage.table_name
  table_arn           = module.storage.table_arn
  archive_bucket_name = module.storage.archive_bucket_name
  archive_bucket_arn  = module.storage.archive_bucket_arn
  log_level           = var.log_level

  kms_key_arn = local.kms_key_arn

  tags = local.tags
}

output "archiver_function_name" {
  description = "Name of the archiver Lambda function."
  value       = module.archive.function_name
}

output "archiver_role_arn" {
  description = "ARN of the archiver's execution role."
  value       = module.archive.role_arn
}

output "archiver_function_environment_variable_names" {
  description = "Names of the archiver's environment variables."
  value       = module.archive.function_environment_variable_names
}

output "archiver_role_name" {
  description = "Name of the archiver's execution role."
  value       = module.archive.role_name
}

# --- The archive as an Athena table (modules/catalog) --------------------------------------------------

variable "enable_athena_table" {
  description = "Create a Glue database and table over the archive's days/ Parquet (partition projection, no crawler), so Athena can query every archived reading. The catalog is free up to a million objects and requests a month."
  type        = bool
  default     = true
}

module "catalog" {
  source = "./modules/catalog"
  count  = var.enable_athena_table ? 1 : 0

  database_name       = replace(lower(var.name), "-", "_")
  archive_bucket_name = module.storage.archive_bucket_name

  tags = local.tags
}

output "athena_database" {
  description = "Glue database of the archive (null when enable_athena_table is false): SELECT ... FROM <this>.readings WHERE date = 'YYYY-MM-DD'."
  value       = try(module.catalog[0].database_name, null)
}

output "athena_readings_table" {
  description = "Glue table of every archived reading, partitioned by UTC date (null when enable_athena_table is false)."
  value       = try(module.catalog[0].readings_table_name, null)
}

output "athena_readings_location_template" {
  description = "S3 location of one date's partition as the table's projection computes it (null when enable_athena_table is false)."
  value       = try(module.catalog[0].readings_location_template, null)
}
