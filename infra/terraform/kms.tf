# With encryption = "customer_key" (the default) one customer managed key per stack encrypts the
# stream or queue, table, topics, log groups and the Lambda environments; with "aws_managed" there is
# no key at all (no monthly key fee) and each service uses its own AWS managed or owned key. Its policy delegates use to IAM (the account) and
# lets the two services that act on their own behalf use it: CloudWatch alarms
# publishing to the encrypted topic, and CloudWatch Logs for the function's log group.

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:This is a KMS key policy: Resource "*" there means this key only, and write actions go to the account (IAM delegation) or to service principals bound by SourceAccount/EncryptionContext conditions.
  #checkov:skip=CKV_AWS_356:This is a KMS key policy: a key policy's Resource must be "*" (it means the key it is attached to).
  #checkov:skip=CKV_AWS_109:This is a KMS key policy: key administration (PutKeyPolicy, grants) is delegated to the account's own IAM, as AWS's default key policy does, so the key is never unmanageable.
  statement {
    sid    = "AccountAdministersAndDelegatesToIam"
    effect = "Allow"
    actions = [
      "kms:CancelKeyDeletion",
      "kms:CreateAlias",
      "kms:CreateGrant",
      "kms:Decrypt",
      "kms:DeleteAlias",
      "kms:DescribeKey",
      "kms:DisableKey",
      "kms:DisableKeyRotation",
      "kms:EnableKey",
      "kms:EnableKeyRotation",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:GenerateDataKeyWithoutPlaintext",
      "kms:GetKeyPolicy",
      "kms:GetKeyRotationStatus",
      "kms:ListAliases",
      "kms:ListGrants",
      "kms:ListKeyPolicies",
      "kms:ListResourceTags",
      "kms:PutKeyPolicy",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
      "kms:RetireGrant",
      "kms:RevokeGrant",
      "kms:ScheduleKeyDeletion",
      "kms:TagResource",
      "kms:UntagResource",
      "kms:UpdateAlias",
      "kms:UpdateKeyDescription",
    ]
    # In a key policy "*" means "this key".
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid    = "CloudWatchAlarmsPublishToEncryptedTopic"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:GenerateDataKey",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid    = "CloudWatchLogsEncryptsFunctionLogs"
    effect = "Allow"
    actions = [
      "kms:Decrypt",
      "kms:DescribeKey",
      "kms:Encrypt",
      "kms:GenerateDataKey",
      "kms:ReEncryptFrom",
      "kms:ReEncryptTo",
    ]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${local.function_name}"]
    }
  }
}

resource "aws_kms_key" "this" {
  count = local.customer_key ? 1 : 0

  description             = "energymon ${var.name}: stream, table, queue, topic, logs and Lambda environment"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms.json

  tags = local.tags
}

resource "aws_kms_alias" "this" {
  count = local.customer_key ? 1 : 0

  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this[0].key_id
}

moved {
  from = aws_kms_key.this
  to   = aws_kms_key.this[0]
}

moved {
  from = aws_kms_alias.this
  to   = aws_kms_alias.this[0]
}
