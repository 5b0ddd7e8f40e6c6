variable "raw_retention_days" {
  description = "Days raw readings stay in DynamoDB (passed to the root module, which checks it)."
  type        = number
  default     = 90
}

variable "archive_mode" {
  description = "per_batch or scheduled (passed to the root module, which checks it)."
  type        = string
  default     = "per_batch"
}

variable "archive_interval_minutes" {
  description = "Minutes between archiver runs with archive_mode = scheduled (passed to the root module, which checks it)."
  type        = number
  default     = 60
}

output "archiver_function_name" {
  description = "Name of the archiver Lambda function."
  value       = module.energymon.archiver_function_name
}

output "archiver_role_arn" {
  description = "ARN of the archiver's execution role."
  value       = module.energymon.archiver_role_arn
}

output "archiver_function_environment_variable_names" {
  description = "Sorted names of the archiver's environment variables."
  value       = module.energymon.archiver_function_environment_variable_names
}

output "archiver_role_name" {
  description = "Name of the archiver's execution role."
  value       = module.energymon.archiver_role_name
}

output "athena_database" {
  description = "Glue database of the archive."
  value       = module.energymon.athena_database
}

output "athena_readings_table" {
  description = "Glue table of every archived reading."
  value       = module.energymon.athena_readings_table
}
