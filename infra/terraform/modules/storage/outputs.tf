output "table_name" {
  description = "Name of the DynamoDB table."
  value       = aws_dynamodb_table.this.name
}

output "table_arn" {
  description = "ARN of the DynamoDB table."
  value       = aws_dynamodb_table.this.arn
}

output "archive_bucket_name" {
  description = "Name of the S3 archive bucket."
  value       = aws_s3_bucket.archive.id
}

output "archive_bucket_arn" {
  description = "ARN of the S3 archive bucket."
  value       = aws_s3_bucket.archive.arn
}

output "archive_rejected_prefix" {
  description = "Key prefix in the archive bucket where rejected messages (with their reason) are kept."
  value       = "rejected/"
}

output "settings_object_key" {
  description = "Key of the shared settings document in the archive bucket (the processor's ENERGYMON_SETTINGS_KEY)."
  value       = aws_s3_object.settings.key
}
