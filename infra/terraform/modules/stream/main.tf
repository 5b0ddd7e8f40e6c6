resource "aws_kinesis_stream" "this" {
  name             = var.stream_name
  retention_period = var.retention_period_hours
  shard_count      = var.stream_mode == "PROVISIONED" ? var.shard_count : null

  stream_mode_details {
    stream_mode = var.stream_mode
  }

  encryption_type = "KMS"
  kms_key_id      = coalesce(var.kms_key_arn, "alias/aws/kinesis")

  shard_level_metrics       = var.shard_level_metrics
  enforce_consumer_deletion = true

  tags = var.tags
}
