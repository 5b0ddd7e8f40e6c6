output "stream_name" {
  description = "Name of the Kinesis telemetry stream."
  value       = module.energymon.stream_name
}

output "table_name" {
  description = "Name of the DynamoDB table."
  value       = module.energymon.table_name
}

output "archive_bucket_name" {
  description = "Name of the S3 archive bucket."
  value       = module.energymon.archive_bucket_name
}

output "alert_topic_arn" {
  description = "ARN of the SNS alert topic."
  value       = module.energymon.alert_topic_arn
}

output "function_name" {
  description = "Name of the processor Lambda function."
  value       = module.energymon.function_name
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = module.energymon.dashboard_name
}

output "read_api_url" {
  description = "HTTPS URL of the hosted dashboard (open <url>?token=<read_api_token> once)."
  value       = module.energymon.read_api_url
}

output "iot_device_policy_name" {
  description = "IoT policy for the box's certificate: energymon device provision <device_id> --policy-name <this>."
  value       = module.energymon.iot_device_policy_name
}

output "iot_topic_rule_name" {
  description = "The topic rule: energymon device provision <device_id> --policy-name <iot_device_policy_name> --basic-ingest-rule <this> makes the box publish through Basic Ingest (no messaging charge)."
  value       = module.energymon.iot_topic_rule_name
}
