output "function_name" {
  description = "Name of the archiver Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the archiver Lambda function."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the archiver's execution role."
  value       = aws_iam_role.this.arn
}

output "schedule_rule_name" {
  description = "Name of the EventBridge rule that runs the archiver."
  value       = aws_cloudwatch_event_rule.schedule.name
}

output "function_environment_variable_names" {
  description = "Names of the archiver's environment variables (the handler's contract, ARCHIVER_ENVIRONMENT)."
  value       = sort(keys(local.environment_variables))
}

output "role_name" {
  description = "Name of the archiver's execution role."
  value       = aws_iam_role.this.name
}
