data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = "${var.function_name}-role"
  description          = "Execution role of the energymon processor Lambda: its own stream or queue, table, bucket, topic and log group only."
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  max_session_duration = 3600

  tags = var.tags
}

locals {
  kms_key_arns = distinct(compact(concat([var.kms_key_arn == null ? "" : var.kms_key_arn], var.additional_kms_key_arns)))
}

# Every action below is either called by the handler or by AWS with this role on its behalf; the test
# tests/integration/terraform/test_iam_enforced.py runs the handler with this role and fails on a call
# it does not allow, and on a grant nobody uses.
data "aws_iam_policy_document" "this" {
  # Not called by the code: the event source mapping polls the stream with the function's role. The
  # Lambda developer guide ("Process Amazon Kinesis Data Streams records with Lambda", services-kinesis-create)
  # lists DescribeStream, DescribeStreamSummary, GetRecords, GetShardIterator and ListShards for a standard
  # iterator. kinesis:SubscribeToShard is only for an enhanced fan-out consumer (its resource is the
  # consumer's ARN, not the stream's), which this mapping does not use.
  dynamic "statement" {
    for_each = local.kinesis ? [var.stream_arn] : []
    content {
      sid    = "EventSourceMappingReadsOwnStream"
      effect = "Allow"
      actions = [
        "kinesis:DescribeStream",
        "kinesis:DescribeStreamSummary",
        "kinesis:GetRecords",
        "kinesis:GetShardIterator",
        "kinesis:ListShards",
      ]
      resources = [statement.value]
    }
  }

  # Not called by the code either: the SQS event source mapping polls the queue with the function's role and
  # deletes what the function handled (Lambda developer guide, "Using Lambda with Amazon SQS", execution role
  # permissions: ReceiveMessage, DeleteMessage, GetQueueAttributes). Failed messages reach the dead-letter queue
  # through the queue's redrive policy, which SQS itself applies: no SendMessage.
  dynamic "statement" {
    for_each = local.kinesis ? [] : [var.queue_arn]
    content {
      sid    = "EventSourceMappingReadsOwnQueue"
      effect = "Allow"
      actions = [
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
      ]
      resources = [statement.value]
    }
  }

  # The handler's DynamoDB calls. TransactWriteItems has no IAM action of its own: each item is authorized
  # as its own action, so the Delete of an hour that a time-zone change empties needs dynamodb:DeleteItem.
  statement {
    sid    = "ReadWriteOwnTableItems"
    effect = "Allow"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
    ]
    resources = [var.table_arn]
  }

  # The archive (raw/) and the dead letters (rejected/): write only, under their own prefixes. With
  # archive_mode = scheduled the handler writes markers to the table (BatchWriteItem) and no raw/ object.
  statement {
    sid       = "WriteArchiveAndDeadLetters"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = concat(var.archive_mode == "scheduled" ? [] : ["${var.archive_bucket_arn}/raw/*"], ["${var.archive_bucket_arn}/rejected/*"])
  }

  # The shared settings document (config/settings.json), read once per container.
  statement {
    sid       = "ReadSharedSettings"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${var.archive_bucket_arn}/config/*"]
  }

  statement {
    sid       = "PublishOwnAlerts"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [var.alert_topic_arn]
  }

  dynamic "statement" {
    for_each = aws_sqs_queue.dlq[*].arn
    content {
      sid       = "SendFailedBatchesToOwnQueue"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }

  statement {
    sid    = "WriteOwnLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # Decrypt: stream records or queue messages, environment variables. GenerateDataKey: the
  # encrypted SQS destination and SNS topic. Under AWS managed keys (encryption = "aws_managed")
  # there is no key of the stack's own: the services' keys need no grant in this role.
  dynamic "statement" {
    for_each = length(local.kms_key_arns) > 0 ? [local.kms_key_arns] : []
    content {
      sid    = "UseOwnKeys"
      effect = "Allow"
      actions = [
        "kms:Decrypt",
        "kms:GenerateDataKey",
      ]
      resources = statement.value
    }
  }

  dynamic "statement" {
    # X-Ray accepts no resource-level permissions: only granted when tracing is Active.
    for_each = var.tracing_mode == "Active" ? [1] : []
    content {
      sid    = "WriteTraces"
      effect = "Allow"
      actions = [
        "xray:PutTelemetryRecords",
        "xray:PutTraceSegments",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.function_name}-least-privilege"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
