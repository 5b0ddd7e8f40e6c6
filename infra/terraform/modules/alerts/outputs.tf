output "function_name" {
  description = "Name of the scheduled alert Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the scheduled alert Lambda function."
  value       = aws_lambda_function.this.arn
}

output "function_role_name" {
  description = "Name of the scheduled alert function's execution role."
  value       = aws_iam_role.this.name
}

output "function_environment_variable_names" {
  description = "Sorted names of the scheduled function's environment (the contract with lambda_handler.SCHEDULED_ENVIRONMENT)."
  value       = sort(keys(local.environment_variables))
}

output "schedule_rule_name" {
  description = "Name of the EventBridge rule that invokes the scheduled function."
  value       = aws_cloudwatch_event_rule.schedule.name
}

output "schedule_rule_arn" {
  description = "ARN of the EventBridge schedule rule (the `resources` of its Scheduled Events)."
  value       = aws_cloudwatch_event_rule.schedule.arn
}

output "consumption_topic_arn" {
  description = "ARN of the consumption-alert SNS topic: the topic_arn of an `sns` channel in the alerts settings."
  value       = aws_sns_topic.consumption.arn
}
