output "queue_name" {
  description = "Name of the SQS telemetry queue."
  value       = module.energymon.queue_name
}

output "queue_url" {
  description = "URL of the SQS telemetry queue (the IoT rule's SQS action sends here)."
  value       = module.energymon.queue_url
}

output "queue_arn" {
  description = "ARN of the SQS telemetry queue (the event source mapping's source)."
  value       = module.energymon.queue_arn
}

output "dlq_url" {
  description = "URL of the telemetry queue's dead-letter queue."
  value       = module.energymon.dlq_url
}

output "table_name" {
  description = "Name of the DynamoDB table."
  value       = module.energymon.table_name
}

output "archive_bucket_name" {
  description = "Name of the S3 archive bucket."
  value       = module.energymon.archive_bucket_name
}

output "function_name" {
  description = "Name of the processor Lambda function."
  value       = module.energymon.function_name
}

output "function_role_name" {
  description = "Name of the processor's execution role."
  value       = module.energymon.function_role_name
}

output "function_environment_variables" {
  description = "The processor's environment, for running the handler locally against this stack."
  value       = module.energymon.function_environment_variables
}

output "event_source_mapping_uuid" {
  description = "UUID of the SQS -> Lambda event source mapping."
  value       = module.energymon.event_source_mapping_uuid
}

output "kms_key_arn" {
  description = "ARN of the stack's customer managed key: null, the lean profile uses AWS managed keys."
  value       = module.energymon.kms_key_arn
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms (the lean profile's: those that protect data)."
  value       = module.energymon.alarm_names
}

output "log_metric_filter_names" {
  description = "Names of the processor's log metric filters (metrics_mode = log_filters only)."
  value       = module.energymon.log_metric_filter_names
}

output "iot_topic_rule_role_name" {
  description = "Name of the IoT topic rule's role (SendMessage to the queue, rejected/ objects)."
  value       = module.energymon.iot_topic_rule_role_name
}

output "read_api_url" {
  description = "HTTPS URL of the hosted read API and dashboard; null when enable_read_api is false."
  value       = module.energymon.read_api_url
}

output "iot_topic_rule_name" {
  description = "The topic rule: energymon device provision <device_id> --policy-name <iot_device_policy_name> --basic-ingest-rule <this> makes the box publish through Basic Ingest (no messaging charge)."
  value       = module.energymon.iot_topic_rule_name
}

output "iot_device_policy_name" {
  description = "IoT policy for the box's certificate: energymon device provision <device_id> --policy-name <this>."
  value       = module.energymon.iot_device_policy_name
}

output "archiver_function_name" {
  description = "Name of the archiver Lambda function (it writes the archive objects in this profile's scheduled archive mode)."
  value       = module.energymon.archiver_function_name
}
