# The archiver (issue #14): a scheduled function from the processor's package, handler
# energymon.runtimes.archiver_lambda.handler. Each run pins the silence openers a late reading can still reach
# (before the table's TTL deletes them), archives what a processor with archive_mode = scheduled marked pending
# (one raw/date=YYYY-MM-DD/scheduled-<hash>.ndjson.gz per UTC date, read back from the table's minute items), and
# compacts every closed UTC day's per-batch objects under raw/ into one zstd Parquet object,
# raw/date=YYYY-MM-DD/readings.parquet (device id a column).

locals {
  # The exact environment contract of energymon.runtimes.archiver_lambda (ARCHIVER_ENVIRONMENT); a test compares.
  environment_variables = {
    ENERGYMON_TABLE_NAME             = var.table_name
    ENERGYMON_ARCHIVE_BUCKET         = var.archive_bucket_name
    ENERGYMON_RAW_RETENTION_DAYS     = tostring(var.raw_retention_days)
    ENERGYMON_STREAM_RETENTION_HOURS = tostring(var.stream_retention_hours)
    POWERTOOLS_LOG_LEVEL             = var.log_level
  }
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Invoked by EventBridge on a schedule: a missed run is redone by the next one (pinning and compaction are idempotent), so there is nothing for a DLQ to hold.
  #checkov:skip=CKV_AWS_117:The function only calls regional AWS APIs; a VPC would add NAT/endpoint cost and no isolation benefit.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by the schedule (one invocation per tick); reserved concurrency fails on new accounts (quota 10-50, 100 must stay unreserved).
  #checkov:skip=CKV_AWS_272:The zip is built and hashed by our own `energymon package-lambda` command and pinned with source_code_hash; AWS Signer can be added per deployment.
  function_name = var.function_name
  description   = "energymon archiver: pins silence openers before the TTL, archives pending hours, compacts closed days of the S3 archive into Parquet"
  role          = aws_iam_role.this.arn

  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  handler          = "energymon.runtimes.archiver_lambda.handler"
  runtime          = var.runtime
  architectures    = ["arm64"]
  memory_size      = var.memory_size
  timeout          = var.timeout_seconds
  kms_key_arn      = var.kms_key_arn
  layers           = var.layers

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
  description         = "Runs the energymon archiver (opener pinning, pending hours, Parquet compaction)."
  schedule_expression = var.schedule_expression

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  rule      = aws_cloudwatch_event_rule.schedule.name
  target_id = "archiver"
  arn       = aws_lambda_function.this.arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 2
  }
}

resource "aws_lambda_permission" "schedule" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule.arn
}
