# The hosted read API and dashboard: the same FastAPI app as `energymon serve`
# (energymon.runtimes.api_lambda.handler, through Mangum) as a Lambda from the same zip
# as the processor, behind an API Gateway HTTP API with a throttled $default stage.

locals {
  environment_variables = {
    ENERGYMON_TABLE_NAME       = var.table_name
    ENERGYMON_API_TOKEN_SHA256 = sha256(var.api_token)
    ENERGYMON_ARCHIVE_BUCKET   = var.settings_bucket_name
    ENERGYMON_SETTINGS_KEY     = var.settings_object_key
    ENERGYMON_SETTINGS_SHA256  = var.settings_object_sha256
    POWERTOOLS_LOG_LEVEL       = var.log_level
  }
}

resource "aws_cloudwatch_log_group" "function" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:The function is invoked synchronously by API Gateway only; a function DLQ applies to async invokes only.
  #checkov:skip=CKV_AWS_117:The function only calls regional AWS APIs (DynamoDB); a VPC would add NAT/endpoint cost and no isolation benefit.
  #checkov:skip=CKV_AWS_272:The zip is built and hashed by our own `energymon package-lambda` command and pinned with source_code_hash; AWS Signer can be added per deployment.
  function_name = var.function_name
  description   = "energymon read API and dashboard (read-only on the table), behind API Gateway"
  role          = aws_iam_role.this.arn

  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  handler          = var.handler
  runtime          = var.runtime
  architectures    = ["arm64"]
  memory_size      = var.memory_size
  timeout          = var.timeout_seconds

  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = var.kms_key_arn

  # Only the token's SHA-256: the secret itself is never in the function configuration.
  environment {
    variables = local.environment_variables
  }

  tracing_config {
    mode = "PassThrough"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.function.name
  }

  tags = var.tags

  depends_on = [
    aws_cloudwatch_log_group.function,
    aws_iam_role_policy.this,
  ]
}

resource "aws_apigatewayv2_api" "this" {
  name          = var.function_name
  description   = "energymon read API and dashboard (bearer token or token cookie on every data route)"
  protocol_type = "HTTP"

  tags = var.tags
}

resource "aws_apigatewayv2_integration" "lambda" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.this.invoke_arn
  integration_method     = "POST"
  payload_format_version = "2.0"
  timeout_milliseconds   = min(30000, var.timeout_seconds * 1000)
}

resource "aws_apigatewayv2_route" "default" {
  #checkov:skip=CKV_AWS_309:Authentication is the app's own bearer token (compared by SHA-256 in constant time, the same check as locally); a Lambda authorizer would double the invocations per request for the same check.
  api_id    = aws_apigatewayv2_api.this.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.lambda.id}"
}

resource "aws_cloudwatch_log_group" "access" {
  name              = "/aws/apigateway/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
  }

  # No query string in the log: a `?token=` link must not end up in the access log.
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId      = "$context.requestId"
      time           = "$context.requestTime"
      ip             = "$context.identity.sourceIp"
      method         = "$context.httpMethod"
      path           = "$context.path"
      status         = "$context.status"
      latencyMs      = "$context.responseLatency"
      responseLength = "$context.responseLength"
      error          = "$context.integrationErrorMessage"
    })
  }

  tags = var.tags
}

resource "aws_lambda_permission" "api_gateway" {
  statement_id  = "AllowInvokeFromOwnHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*"
}
