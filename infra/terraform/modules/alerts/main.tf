# Consumption alerts on AWS: the scheduled evaluator (a second function from the processor's zip, handler
# energymon.runtimes.lambda_handler.scheduled_handler), its EventBridge schedule, and the consumption-alert
# SNS topic beside the ops-alarm topic (modules/monitoring), with its e-mail subscriptions.

data "aws_caller_identity" "current" {}

locals {
  # The exact environment contract of energymon.runtimes.lambda_handler.scheduled_handler
  # (SCHEDULED_ENVIRONMENT); a test compares both sides. The document's hash: a changed document changes the
  # function configuration, so new containers load it.
  environment_variables = {
    ENERGYMON_TABLE_NAME         = var.table_name
    ENERGYMON_ARCHIVE_BUCKET     = var.archive_bucket_name
    ENERGYMON_SETTINGS_KEY       = var.settings_object_key
    ENERGYMON_SETTINGS_SHA256    = var.settings_object_sha256
    POWERTOOLS_SERVICE_NAME      = var.powertools_service_name
    POWERTOOLS_METRICS_NAMESPACE = var.powertools_metrics_namespace
    POWERTOOLS_LOG_LEVEL         = var.log_level
  }
}

# --- Consumption-alert topic: what users subscribe to (ops alarms stay on their own topic) ---------------

resource "aws_sns_topic" "consumption" {
  name              = var.topic_name
  kms_master_key_id = var.kms_key_arn

  tags = var.tags
}

data "aws_iam_policy_document" "consumption" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.consumption.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }

  # Without a topic policy SNS grants the owner account; an explicit policy replaces that default.
  statement {
    sid       = "OwnerAccountPublishes"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.consumption.arn]

    principals {
      type        = "AWS"
      identifiers = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "consumption" {
  arn    = aws_sns_topic.consumption.arn
  policy = data.aws_iam_policy_document.consumption.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alert_emails_consumption)

  topic_arn = aws_sns_topic.consumption.arn
  protocol  = "email"
  endpoint  = each.value
}

# --- Scheduled evaluator -------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked by EventBridge on a schedule: a missed tick is replaced by the next one (evaluation is as-of the event time, the outbox keeps every notification), so there is nothing for a DLQ to hold.
  #checkov:skip=CKV_AWS_117:The function only calls regional AWS APIs; a VPC would add NAT/endpoint cost and no isolation benefit.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by the schedule (one invocation per tick); reserved concurrency fails on new accounts (quota 10-50, 100 must stay unreserved).
  #checkov:skip=CKV_AWS_272:The zip is built and hashed by our own `energymon package-lambda` command and pinned with source_code_hash; AWS Signer can be added per deployment.
  function_name = var.function_name
  description   = "energymon scheduled alerts: time-driven rules (no_data, base load, budgets, unusual days), then the alert outbox"
  role          = aws_iam_role.this.arn

  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  handler          = var.handler
  runtime          = var.runtime
  architectures    = ["arm64"]
  memory_size      = var.memory_size
  timeout          = var.timeout_seconds
  kms_key_arn      = var.kms_key_arn

  environment {
    variables = local.environment_variables
  }

  tracing_config {
    mode = var.tracing_mode
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  tags = var.tags

  depends_on = [
    aws_cloudwatch_log_group.this,
    aws_iam_role_policy.this,
  ]
}

resource "aws_cloudwatch_event_rule" "schedule" {
  name                = "${var.function_name}-schedule"
  description         = "Runs the energymon scheduled alert evaluator."
  schedule_expression = var.schedule_expression

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  rule      = aws_cloudwatch_event_rule.schedule.name
  target_id = "scheduled-alerts"
  arn       = aws_lambda_function.this.arn

  # A tick older than the next one is worthless: no retries piling up behind a slow run.
  retry_policy {
    maximum_event_age_in_seconds = 60
    maximum_retry_attempts       = 0
  }
}

resource "aws_lambda_permission" "schedule" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule.arn
}
