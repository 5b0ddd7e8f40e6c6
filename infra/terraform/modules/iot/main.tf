data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  iot_arn_prefix = "arn:${data.aws_partition.current.partition}:iot:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"

  # Certificates are only registered for things that bring a CSR made on the device:
  # a certificate created here without one would put its private key in the state.
  things_with_csr = { for name, thing in var.things : name => thing if thing.certificate_csr != null }

  topic_rule_sql = "SELECT *, topic(2) AS topic_device_id FROM '${var.topic_root}/+/telemetry'"

  # Basic Ingest: a device publishes to $aws/rules/<rule>/<topic_root>/<thing>/telemetry and the rule runs without
  # the message broker (no messaging charge). The prefix is invisible to topic(), so the rule's SQL, its partition
  # key and the processor's topic_device_id are the same on both paths.
  basic_ingest_prefix = "$aws/rules/${var.topic_rule_name}"
  publish_topics = concat(
    var.basic_ingest ? ["${local.iot_arn_prefix}:topic/${local.basic_ingest_prefix}/${var.topic_root}/$${iot:Connection.Thing.ThingName}/telemetry"] : [],
    var.broker_topic ? ["${local.iot_arn_prefix}:topic/${var.topic_root}/$${iot:Connection.Thing.ThingName}/*"] : [],
  )
}

# --- Things and their certificates -----------------------------------------------

resource "aws_iot_thing" "this" {
  for_each = var.things

  name       = each.key
  attributes = each.value.attributes
}

resource "aws_iot_certificate" "this" {
  for_each = local.things_with_csr

  csr    = each.value.certificate_csr
  active = true
}

resource "aws_iot_thing_principal_attachment" "this" {
  for_each = local.things_with_csr

  thing     = aws_iot_thing.this[each.key].name
  principal = aws_iot_certificate.this[each.key].arn
}

# --- Device policy: a thing may only be itself and publish only its own topics ---

data "aws_iam_policy_document" "device" {
  statement {
    sid       = "ConnectAsOwnThingName"
    effect    = "Allow"
    actions   = ["iot:Connect"]
    resources = ["${local.iot_arn_prefix}:client/$${iot:Connection.Thing.ThingName}"]

    condition {
      test     = "Bool"
      variable = "iot:Connection.Thing.IsAttached"
      values   = ["true"]
    }
  }

  statement {
    sid       = "PublishOwnTelemetryOnly"
    effect    = "Allow"
    actions   = ["iot:Publish"]
    resources = local.publish_topics

    condition {
      test     = "Bool"
      variable = "iot:Connection.Thing.IsAttached"
      values   = ["true"]
    }
  }
}

resource "aws_iot_policy" "device" {
  count = var.manage_iot_policy ? 1 : 0

  name   = var.device_policy_name
  policy = data.aws_iam_policy_document.device.json

  tags = var.tags
}

resource "aws_iot_policy_attachment" "device" {
  for_each = var.manage_iot_policy ? local.things_with_csr : {}

  policy = aws_iot_policy.device[0].name
  target = aws_iot_certificate.this[each.key].arn
}

# --- Topic rule: energy/<thing>/telemetry -> Kinesis (partitioned by device) or SQS --

resource "aws_iot_topic_rule" "telemetry" {
  count = var.manage_topic_rule ? 1 : 0

  name        = var.topic_rule_name
  description = "energymon: device telemetry to the ${var.buffer == "kinesis" ? "Kinesis stream, partitioned by device id" : "SQS queue"}; failures to ${var.error_bucket_name}/${var.error_key_prefix}"
  enabled     = true
  sql         = local.topic_rule_sql
  sql_version = "2016-03-23"

  dynamic "kinesis" {
    for_each = var.buffer == "kinesis" ? [var.stream_name] : []
    content {
      stream_name   = kinesis.value
      partition_key = "$${topic(2)}"
      role_arn      = aws_iam_role.topic_rule.arn
    }
  }

  # The JSON itself as the message body (use_base64 = false): the processor reads the SQS body as the payload.
  dynamic "sqs" {
    for_each = var.buffer == "sqs" ? [var.queue_url] : []
    content {
      queue_url  = sqs.value
      role_arn   = aws_iam_role.topic_rule.arn
      use_base64 = false
    }
  }

  error_action {
    s3 {
      bucket_name = var.error_bucket_name
      key         = "${var.error_key_prefix}iot-rule/$${topic(2)}/$${timestamp()}-$${newuuid()}.json"
      role_arn    = aws_iam_role.topic_rule.arn
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.topic_rule]
}
