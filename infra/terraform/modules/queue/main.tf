# The lean profile's buffer: a standard SQS queue between the IoT rule's SQS action and the processor's
# event source mapping, with its dead-letter queue. Standard, not FIFO: the IoT SQS action cannot send to a
# FIFO queue, and the processor needs no order (its writes are idempotent and order-insensitive).

locals {
  customer_key = var.kms_key_arn != null
}

resource "aws_sqs_queue" "dlq" {
  name                      = "${var.queue_name}-dlq"
  message_retention_seconds = var.dlq_message_retention_seconds

  # customer_key: the stack's CMK; aws_managed: SSE-SQS (SQS-owned keys, no KMS request charges).
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.customer_key ? 3600 : null
  sqs_managed_sse_enabled           = local.customer_key ? null : true

  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  name                       = var.queue_name
  visibility_timeout_seconds = var.visibility_timeout_seconds
  message_retention_seconds  = var.message_retention_seconds

  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = local.customer_key ? 3600 : null
  sqs_managed_sse_enabled           = local.customer_key ? null : true

  # A message the processor fails to handle max_receive_count times moves, whole, to the dead-letter queue
  # (unlike Kinesis' on-failure destination, which gets batch metadata only): nothing is lost to a poison message.
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

# No redrive allow policy on the dead-letter queue: moto 5.2 never reports one back, so the provider waits
# for it forever there; on AWS the default ("allowAll") lets only queues of this account name it anyway.

data "aws_iam_policy_document" "tls_only" {
  for_each = { queue = aws_sqs_queue.this.arn, dlq = aws_sqs_queue.dlq.arn }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [each.value]

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

resource "aws_sqs_queue_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  policy    = data.aws_iam_policy_document.tls_only["queue"].json
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = data.aws_iam_policy_document.tls_only["dlq"].json
}
