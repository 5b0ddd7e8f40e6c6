locals {
  # The exact environment contract of energymon.runtimes.lambda_handler: the handler reads
  # these names and nothing else. Keep in sync with the Python settings (a test compares).
  environment_variables = {
    ENERGYMON_TABLE_NAME         = var.table_name
    ENERGYMON_ARCHIVE_BUCKET     = var.archive_bucket_name
    ENERGYMON_ALERT_TOPIC_ARN    = var.alert_topic_arn
    ENERGYMON_SETTINGS_KEY       = var.settings_object_key
    ENERGYMON_SETTINGS_SHA256    = var.settings_object_sha256
    POWERTOOLS_SERVICE_NAME      = var.powertools_service_name
    POWERTOOLS_METRICS_NAMESPACE = var.powertools_metrics_namespace
    POWERTOOLS_LOG_LEVEL         = var.log_level
    METRICS_MODE                 = var.metrics_mode
    ENERGYMON_RAW_RETENTION_DAYS = tostring(var.raw_retention_days)
    ENERGYMON_ARCHIVE_MODE       = var.archive_mode
  }
  kinesis = var.event_source == "kinesis"
}

resource "aws_cloudwatch_log_group" "this" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:The function is only invoked by an event source mapping (Kinesis or SQS); a function DLQ applies to async invokes only. Failed Kinesis batches go to the mapping's on-failure SQS destination, failed SQS messages to the queue's redrive dead-letter queue.
  #checkov:skip=CKV_AWS_117:The function only calls regional AWS APIs; a VPC would add NAT/endpoint cost and no isolation benefit.
  #checkov:skip=CKV_AWS_115:No reserved concurrency by default: PutFunctionConcurrency must leave 100 executions of the account unreserved, which new accounts (quota 10-50) cannot; the Kinesis mapping bounds concurrency to shards x parallelization_factor anyway. Set reserved_concurrent_executions where the account has room.
  #checkov:skip=CKV_AWS_272:The zip is built and hashed by our own `energymon package-lambda` command and pinned with source_code_hash; AWS Signer can be added per deployment.
  function_name = var.function_name
  description   = "energymon processor: ${local.kinesis ? "Kinesis" : "SQS"} telemetry batches -> DynamoDB rollups, S3 archive, SNS alerts"
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

# One mapping, from the stream or from the queue: the same batch size and batching window, the same partial batch
# response. What only Kinesis has (starting position, parallelization, bisect, retry and age bounds, an on-failure
# destination) is null for SQS, whose retries and dead-letter queue are the queue's redrive policy (modules/queue).
resource "aws_lambda_event_source_mapping" "this" {
  function_name     = aws_lambda_function.this.arn
  event_source_arn  = local.kinesis ? var.stream_arn : var.queue_arn
  starting_position = local.kinesis ? "TRIM_HORIZON" : null
  enabled           = true

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  parallelization_factor             = local.kinesis ? var.parallelization_factor : null

  function_response_types        = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error = local.kinesis ? true : null
  maximum_retry_attempts         = local.kinesis ? var.maximum_retry_attempts : null
  maximum_record_age_in_seconds  = local.kinesis ? var.maximum_record_age_in_seconds : null

  dynamic "destination_config" {
    for_each = local.kinesis ? [aws_sqs_queue.dlq[0].arn] : []
    content {
      on_failure {
        destination_arn = destination_config.value
      }
    }
  }

  dynamic "scaling_config" {
    for_each = local.kinesis ? [] : [var.sqs_maximum_concurrency]
    content {
      maximum_concurrency = scaling_config.value
    }
  }

  tags = var.tags

  # The role must be able to read the stream or queue before the mapping is enabled.
  depends_on = [aws_iam_role_policy.this]
}

# On-failure destination of the Kinesis event source mapping. It receives KinesisBatchInfo
# (shard, sequence-number range, stream ARN) only: the records themselves must be
# re-read from the stream before its retention runs out. (With SQS the queue's own
# dead-letter queue, modules/queue, takes whole messages instead.)
resource "aws_sqs_queue" "dlq" {
  count = local.kinesis ? 1 : 0

  name                      = "${var.function_name}-dlq"
  message_retention_seconds = var.dlq_message_retention_seconds

  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : 3600
  sqs_managed_sse_enabled           = var.kms_key_arn == null ? true : null

  tags = var.tags
}

moved {
  from = aws_sqs_queue.dlq
  to   = aws_sqs_queue.dlq[0]
}

moved {
  from = aws_sqs_queue_policy.dlq
  to   = aws_sqs_queue_policy.dlq[0]
}

data "aws_iam_policy_document" "dlq" {
  count = local.kinesis ? 1 : 0

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["sqs:*"]
    resources = [
      aws_sqs_queue.dlq[0].arn,
    ]

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
}

resource "aws_sqs_queue_policy" "dlq" {
  count = local.kinesis ? 1 : 0

  queue_url = aws_sqs_queue.dlq[0].id
  policy    = data.aws_iam_policy_document.dlq[0].json
}
