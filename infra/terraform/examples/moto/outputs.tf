output "stream_name" {
  description = "Name of the Kinesis telemetry stream."
  value       = module.energymon.stream_name
}

output "stream_arn" {
  description = "ARN of the Kinesis telemetry stream."
  value       = module.energymon.stream_arn
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

output "function_role_name" {
  description = "Name of the processor's execution role."
  value       = module.energymon.function_role_name
}

output "function_environment_variable_names" {
  description = "Sorted names of the processor's environment variables."
  value       = module.energymon.function_environment_variable_names
}

output "function_environment_variables" {
  description = "The processor's environment, for running the handler locally against this stack."
  value       = module.energymon.function_environment_variables
}

output "event_source_mapping_uuid" {
  description = "UUID of the Kinesis -> Lambda event source mapping."
  value       = module.energymon.event_source_mapping_uuid
}

output "dlq_url" {
  description = "URL of the on-failure SQS queue."
  value       = module.energymon.dlq_url
}

output "kms_key_arn" {
  description = "ARN of the stack's KMS key."
  value       = module.energymon.kms_key_arn
}

output "iot_thing_names" {
  description = "Names of the IoT things."
  value       = module.energymon.iot_thing_names
}

output "iot_device_policy_document" {
  description = "JSON of the device IoT policy (not created on moto)."
  value       = module.energymon.iot_device_policy_document
}

output "iot_basic_ingest_topic_prefix" {
  description = "Basic Ingest prefix of the topic rule: devices publish to <prefix>/energy/<thing>/telemetry."
  value       = module.energymon.iot_basic_ingest_topic_prefix
}

output "iot_topic_rule_role_name" {
  description = "Name of the IoT topic rule's role."
  value       = module.energymon.iot_topic_rule_role_name
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms."
  value       = module.energymon.alarm_names
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = module.energymon.dashboard_name
}

output "read_api_url" {
  description = "URL of the read API's $default stage (emulated)."
  value       = module.energymon.read_api_url
}

output "read_api_function_name" {
  description = "Name of the read API Lambda function."
  value       = module.energymon.read_api_function_name
}

output "read_api_role_name" {
  description = "Name of the read API's execution role."
  value       = module.energymon.read_api_role_name
}

output "alerts_function_name" {
  description = "Name of the scheduled alert Lambda function."
  value       = module.energymon.alerts_function_name
}

output "alerts_function_role_name" {
  description = "Name of the scheduled alert function's execution role."
  value       = module.energymon.alerts_function_role_name
}

output "alerts_function_environment_variable_names" {
  description = "Sorted names of the scheduled alert function's environment variables."
  value       = module.energymon.alerts_function_environment_variable_names
}

output "alerts_schedule_rule_name" {
  description = "Name of the EventBridge rule that runs the scheduled alert evaluator."
  value       = module.energymon.alerts_schedule_rule_name
}

output "alerts_schedule_rule_arn" {
  description = "ARN of the EventBridge rule that runs the scheduled alert evaluator."
  value       = module.energymon.alerts_schedule_rule_arn
}

output "consumption_alert_topic_arn" {
  description = "ARN of the consumption-alert SNS topic."
  value       = module.energymon.consumption_alert_topic_arn
}
