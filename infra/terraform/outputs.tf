output "buffer" {
  description = "What carries telemetry from the IoT rule to the processor: kinesis or sqs."
  value       = var.buffer
}

output "stream_name" {
  description = "Name of the Kinesis telemetry stream (null with buffer = sqs)."
  value       = local.kinesis ? module.stream[0].stream_name : null
}

output "stream_arn" {
  description = "ARN of the Kinesis telemetry stream (null with buffer = sqs)."
  value       = local.kinesis ? module.stream[0].stream_arn : null
}

output "queue_name" {
  description = "Name of the SQS telemetry queue (null with buffer = kinesis)."
  value       = local.kinesis ? null : module.queue[0].queue_name
}

output "queue_arn" {
  description = "ARN of the SQS telemetry queue (null with buffer = kinesis)."
  value       = local.kinesis ? null : module.queue[0].queue_arn
}

output "queue_url" {
  description = "URL of the SQS telemetry queue (null with buffer = kinesis)."
  value       = local.kinesis ? null : module.queue[0].queue_url
}

output "table_name" {
  description = "Name of the DynamoDB table."
  value       = module.storage.table_name
}

output "table_arn" {
  description = "ARN of the DynamoDB table."
  value       = module.storage.table_arn
}

output "archive_bucket_name" {
  description = "Name of the S3 archive bucket (rejected messages under rejected/)."
  value       = module.storage.archive_bucket_name
}

output "archive_bucket_arn" {
  description = "ARN of the S3 archive bucket."
  value       = module.storage.archive_bucket_arn
}

output "alert_topic_arn" {
  description = "ARN of the SNS alert topic."
  value       = module.monitoring.alert_topic_arn
}

output "function_name" {
  description = "Name of the processor Lambda function."
  value       = module.processor.function_name
}

output "function_arn" {
  description = "ARN of the processor Lambda function."
  value       = module.processor.function_arn
}

output "function_role_name" {
  description = "Name of the processor's execution role."
  value       = module.processor.function_role_name
}

output "function_environment_variable_names" {
  description = "Sorted names of the processor's environment variables (the contract with energymon.runtimes.lambda_handler)."
  value       = module.processor.function_environment_variable_names
}

output "function_environment_variables" {
  description = "The processor's environment, for running the same handler locally against this stack."
  value       = module.processor.function_environment_variables
}

output "event_source_mapping_uuid" {
  description = "UUID of the stream or queue -> Lambda event source mapping."
  value       = module.processor.event_source_mapping_uuid
}

output "dlq_url" {
  description = "URL of the queue that keeps what the processor failed on: Kinesis' on-failure queue (batch metadata) or the SQS telemetry queue's dead-letter queue (whole messages)."
  value       = local.kinesis ? module.processor.dlq_url : module.queue[0].dlq_url
}

output "dlq_arn" {
  description = "ARN of that queue (on-failure queue with Kinesis, dead-letter queue with SQS)."
  value       = local.kinesis ? module.processor.dlq_arn : module.queue[0].dlq_arn
}

output "kms_key_arn" {
  description = "ARN of the stack's customer managed KMS key (null with encryption = aws_managed)."
  value       = local.kms_key_arn
}

output "function_log_group_name" {
  description = "Name of the processor's CloudWatch log group (where metrics_mode = log_filters puts its metric filters)."
  value       = module.processor.function_log_group_name
}

output "log_metric_filter_names" {
  description = "Names of the processor's log metric filters, keyed by metric (empty unless metrics_mode = log_filters)."
  value       = module.processor.log_metric_filter_names
}

output "iot_thing_names" {
  description = "Names of the IoT things."
  value       = module.iot.thing_names
}

output "iot_device_policy_name" {
  description = "Name of the device IoT policy (null when manage_iot_policy is false)."
  value       = module.iot.device_policy_name
}

output "iot_device_policy_document" {
  description = "JSON of the device IoT policy (rendered even when the policy is not managed)."
  value       = module.iot.device_policy_document
}

output "iot_basic_ingest_topic_prefix" {
  description = "Basic Ingest prefix of the topic rule ($aws/rules/<rule>; null when basic_ingest is false): the agent's basic_ingest_rule is its last level, and devices publish to <prefix>/energy/<thing>/telemetry."
  value       = module.iot.basic_ingest_topic_prefix
}

output "iot_topic_rule_name" {
  description = "Name of the IoT topic rule (null when manage_iot_topic_rule is false)."
  value       = module.iot.topic_rule_name
}

output "iot_topic_rule_role_name" {
  description = "Name of the IoT topic rule's role."
  value       = module.iot.topic_rule_role_name
}

output "alarm_names" {
  description = "Names of the CloudWatch alarms, keyed by what they watch."
  value       = module.monitoring.alarm_names
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = module.monitoring.dashboard_name
}

output "read_api_url" {
  description = "HTTPS URL of the hosted read API and dashboard (open <url>?token=<read_api_token> once); null when enable_read_api is false."
  value       = var.enable_read_api ? module.read_api[0].api_url : null
}

output "read_api_function_name" {
  description = "Name of the read API Lambda function; null when enable_read_api is false."
  value       = var.enable_read_api ? module.read_api[0].function_name : null
}

output "read_api_role_arn" {
  description = "ARN of the read API's execution role (read-only on the table); null when enable_read_api is false."
  value       = var.enable_read_api ? module.read_api[0].function_role_arn : null
}

output "read_api_role_name" {
  description = "Name of the read API's execution role; null when enable_read_api is false."
  value       = var.enable_read_api ? module.read_api[0].function_role_name : null
}

output "alerts_function_name" {
  description = "Name of the scheduled alert Lambda function (handler energymon.runtimes.lambda_handler.scheduled_handler)."
  value       = module.alerts.function_name
}

output "alerts_function_role_name" {
  description = "Name of the scheduled alert function's execution role."
  value       = module.alerts.function_role_name
}

output "alerts_function_environment_variable_names" {
  description = "Sorted names of the scheduled alert function's environment variables."
  value       = module.alerts.function_environment_variable_names
}

output "alerts_schedule_rule_name" {
  description = "Name of the EventBridge rule that runs the scheduled alert evaluator."
  value       = module.alerts.schedule_rule_name
}

output "alerts_schedule_rule_arn" {
  description = "ARN of the EventBridge rule that runs the scheduled alert evaluator."
  value       = module.alerts.schedule_rule_arn
}

output "consumption_alert_topic_arn" {
  description = "ARN of the consumption-alert SNS topic (use it as the topic_arn of an `sns` alert channel)."
  value       = module.alerts.consumption_topic_arn
}
