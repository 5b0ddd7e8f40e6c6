# --- S3: raw archive (accepted readings) and rejected/ (dead letters with reason) --

resource "aws_s3_bucket" "archive" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a second bucket per stack; object-level auditing is done with CloudTrail data events at the account level.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost for a re-derivable raw archive; the readings' source of truth is the DynamoDB table with PITR.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) is the chosen default: no per-request KMS cost, and the IoT rule error action can write without KMS grants.
  #checkov:skip=CKV2_AWS_62:Nothing consumes bucket events; the processor writes the objects itself.
  bucket        = var.archive_bucket_name
  force_destroy = var.archive_force_destroy

  tags = var.tags
}

resource "aws_s3_bucket_ownership_controls" "archive" {
  bucket = aws_s3_bucket.archive.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "archive" {
  bucket = aws_s3_bucket.archive.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "archive" {
  bucket = aws_s3_bucket.archive.id

  versioning_configuration {
    status = "Enabled"
  }
}

# One rule per prefix, since each is read differently:
#   raw/      per-batch gzip NDJSON; the archiver folds a closed day into days/ within hours, so these tier only
#             where no archiver runs
#   days/     a day's Parquet, queried by Athena: GLACIER_IR rather than GLACIER, which Athena cannot read
#   rejected/ dead letters, listed and reprocessed by `energymon dead-letters`: never a Glacier class
#   config/   the settings document every cold start reads: never transitioned, never expired (no rule)
locals {
  archive_tiers = {
    raw-batches  = { prefix = "raw/", cold_class = "GLACIER" }
    days-parquet = { prefix = "days/", cold_class = "GLACIER_IR" }
    rejected     = { prefix = "rejected/", cold_class = null }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "archive" {
  bucket = aws_s3_bucket.archive.id

  dynamic "rule" {
    for_each = local.archive_tiers
    content {
      id     = rule.key
      status = "Enabled"

      filter {
        prefix = rule.value.prefix
      }

      transition {
        days          = var.archive_standard_ia_after_days
        storage_class = "STANDARD_IA"
      }

      dynamic "transition" {
        for_each = rule.value.cold_class == null ? [] : [rule.value.cold_class]
        content {
          days          = var.archive_glacier_after_days
          storage_class = transition.value
        }
      }

      dynamic "expiration" {
        for_each = var.archive_expiration_days == null ? [] : [var.archive_expiration_days]
        content {
          days = expiration.value
        }
      }

      noncurrent_version_expiration {
        noncurrent_days = var.archive_noncurrent_version_expiration_days
      }
    }
  }

  # The whole bucket, config/ included: an upload that never completed keeps costing until aborted.
  rule {
    id     = "abort-incomplete-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # Versioning must be on before noncurrent-version rules are meaningful.
  depends_on = [aws_s3_bucket_versioning.archive]
}

data "aws_iam_policy_document" "archive_bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.archive.arn,
      "${aws_s3_bucket.archive.arn}/*",
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

resource "aws_s3_bucket_policy" "archive" {
  bucket = aws_s3_bucket.archive.id
  policy = data.aws_iam_policy_document.archive_bucket.json

  # A bucket policy put before the public access block can race with it. The settings object goes in first:
  # moto applies the TLS-only Deny without its condition (getmoto/moto#5820), so no object could be written
  # after it there; on AWS the order changes nothing.
  depends_on = [aws_s3_bucket_public_access_block.archive, aws_s3_object.settings]
}

# The shared settings document (energymon.shared_settings.SharedSettings as JSON): the processor reads it at
# cold start; its key and SHA-256 are in the function's environment.
resource "aws_s3_object" "settings" {
  bucket       = aws_s3_bucket.archive.id
  key          = "config/settings.json" # energymon.adapters.aws.settings_object.SETTINGS_KEY
  content      = var.settings_document_json
  content_type = "application/json"

  server_side_encryption = var.kms_key_arn == null ? "AES256" : "aws:kms"
  kms_key_id             = var.kms_key_arn

  tags = var.tags

  depends_on = [aws_s3_bucket_public_access_block.archive, aws_s3_bucket_server_side_encryption_configuration.archive]
}
