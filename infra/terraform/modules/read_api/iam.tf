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
  description          = "Execution role of the energymon read API Lambda: read-only on its table, its log group."
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  max_session_duration = 3600

  tags = var.tags
}

# What the read side calls (energymon.adapters.aws.dynamodb_reads: Query, GetItem) and nothing
# else: no write, no scan, no DescribeTable, no BatchGetItem (only the processor's rollups batch-read).
# tests/integration/terraform/test_read_api_on_terraform.py drives every GET route under this role.
data "aws_iam_policy_document" "this" {
  statement {
    sid    = "ReadOwnTableItems"
    effect = "Allow"
    actions = [
      "dynamodb:GetItem",
      "dynamodb:Query",
    ]
    resources = [var.table_arn]
  }

  # The settings document only: zones, tariffs and labels, so the hosted API computes what the processor does.
  statement {
    sid       = "ReadSettingsDocument"
    effect    = "Allow"
    actions   = ["s3:GetObject"]
    resources = ["${var.settings_bucket_arn}/${var.settings_object_key}"]
  }

  statement {
    sid    = "WriteOwnLogs"
    effect = "Allow"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }

  # Decrypt: the environment variables and the table, both under the stack key.
  dynamic "statement" {
    for_each = var.kms_key_arn == null ? [] : [var.kms_key_arn]
    content {
      sid       = "DecryptWithStackKey"
      effect    = "Allow"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.function_name}-read-only"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
