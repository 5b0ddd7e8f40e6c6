output "function_name" {
  description = "Name of the processor Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the processor Lambda function."
  value       = aws_lambda_function.this.arn
}

output "function_role_arn" {
  description = "ARN of the processor's execution role."
  value       = aws_iam_role.this.arn
}

output "function_role_name" {
  description = "Name of the processor's execution role."
  value       = aws_iam_role.this.name
}

output "function_log_group_name" {
  description = "Name of the processor's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "function_environment_variable_names" {
  description = "Sorted names of the environment variables the function receives: the contract with energymon.runtimes.lambda_handler."
  value       = sort(keys(local.environment_variables))
}

output "function_environment_variables" {
  description = "Environment the function receives (no secrets in it); lets the local poller run the handler with the Lambda's own environment."
  value       = local.environment_variables
}

output "event_source_mapping_uuid" {
  description = "UUID of the event source mapping (from the stream or the queue)."
  value       = aws_lambda_event_source_mapping.this.uuid
}

output "dlq_url" {
  description = "URL of the on-failure SQS queue of the Kinesis event source mapping (null with SQS: the queue's own dead-letter queue takes failures)."
  value       = try(aws_sqs_queue.dlq[0].url, null)
}

output "dlq_arn" {
  description = "ARN of the on-failure SQS queue of the Kinesis event source mapping (null with SQS)."
  value       = try(aws_sqs_queue.dlq[0].arn, null)
}

output "dlq_name" {
  description = "Name of the on-failure SQS queue of the Kinesis event source mapping (null with SQS)."
  value       = try(aws_sqs_queue.dlq[0].name, null)
}

output "log_metric_filter_names" {
  description = "Names of the log metric filters, keyed by metric (empty unless metrics_mode is log_filters)."
  value       = { for k, f in aws_cloudwatch_log_metric_filter.this : k => f.name }
}
