data "aws_iam_policy_document" "topic_rule_assume" {
  statement {
    sid     = "IotRuleAssumeRole"
    effect  = "Allow"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["iot.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "topic_rule" {
  name                 = "${var.topic_rule_name}-role"
  description          = "Role of the energymon IoT topic rule: PutRecord to its stream or SendMessage to its queue, rejected/ objects for its error action."
  assume_role_policy   = data.aws_iam_policy_document.topic_rule_assume.json
  max_session_duration = 3600

  tags = var.tags
}

# Exactly what IoT does with this role (AWS IoT developer guide, "Kinesis Data Streams" rule action
# (kinesis-rule-action): "an IAM role that AWS IoT can assume to perform the kinesis:PutRecord operation",
# and with a customer managed key on the stream, permission to use that key (Kinesis developer guide,
# permissions-user-key-KMS: a producer needs kms:GenerateDataKey); "S3" rule action (s3-rule-action):
# s3:PutObject. The bucket is SSE-S3, so the error action needs no KMS permission.
# "SQS" rule action (sqs-rule-action): sqs:SendMessage, and with a customer managed key on the queue
# kms:GenerateDataKey and kms:Decrypt (SQS developer guide, sqs-key-management: a producer needs both).
data "aws_iam_policy_document" "topic_rule" {
  dynamic "statement" {
    for_each = var.buffer == "kinesis" ? [var.stream_arn] : []
    content {
      sid       = "PutRecordToOwnStream"
      effect    = "Allow"
      actions   = ["kinesis:PutRecord"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.buffer == "kinesis" && var.stream_kms_key_arn != null ? [var.stream_kms_key_arn] : []
    content {
      sid       = "EncryptForOwnStream"
      effect    = "Allow"
      actions   = ["kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.buffer == "sqs" ? [var.queue_arn] : []
    content {
      sid       = "SendToOwnQueue"
      effect    = "Allow"
      actions   = ["sqs:SendMessage"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.buffer == "sqs" && var.queue_kms_key_arn != null ? [var.queue_kms_key_arn] : []
    content {
      sid       = "EncryptForOwnQueue"
      effect    = "Allow"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  statement {
    sid       = "WriteRejectedMessages"
    effect    = "Allow"
    actions   = ["s3:PutObject"]
    resources = ["${var.error_bucket_arn}/${var.error_key_prefix}*"]
  }
}

resource "aws_iam_role_policy" "topic_rule" {
  name   = "${var.topic_rule_name}-least-privilege"
  role   = aws_iam_role.topic_rule.id
  policy = data.aws_iam_policy_document.topic_rule.json
}
