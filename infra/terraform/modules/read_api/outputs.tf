output "api_url" {
  description = "HTTPS URL of the read API and dashboard (open <url>?token=<api_token> once: the page keeps it in a cookie)."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "api_id" {
  description = "ID of the API Gateway HTTP API."
  value       = aws_apigatewayv2_api.this.id
}

output "function_name" {
  description = "Name of the read API Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_role_arn" {
  description = "ARN of the read API's execution role."
  value       = aws_iam_role.this.arn
}

output "function_role_name" {
  description = "Name of the read API's execution role."
  value       = aws_iam_role.this.name
}

output "function_environment_variable_names" {
  description = "Names of the read API's environment variables (the contract with energymon.runtimes.api_lambda.ENVIRONMENT)."
  value       = sort(keys(local.environment_variables))
}

output "policy_json" {
  description = "The read API role's policy document (read-only on the table)."
  value       = data.aws_iam_policy_document.this.json
}
