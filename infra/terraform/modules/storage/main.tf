# --- DynamoDB: readings, rollups and device state (single-table design) ---------

resource "aws_dynamodb_table" "this" {
  #checkov:skip=CKV_AWS_119:The customer managed key is the default (root encryption = "customer_key"); encryption = "aws_managed" (the lean one-home profile) chooses DynamoDB's AWS owned key on purpose, still encrypted at rest, to save the key's monthly fee (infra/terraform/README.md, Profiles).
  name         = var.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
    enabled        = true
  }

  # Without a customer managed key the table keeps DynamoDB's AWS owned key: encrypted at rest, no KMS charges.
  server_side_encryption {
    enabled     = var.kms_key_arn != null
    kms_key_arn = var.kms_key_arn
  }

  point_in_time_recovery {
    enabled = true
  }

  deletion_protection_enabled = var.table_deletion_protection

  tags = var.tags
}
