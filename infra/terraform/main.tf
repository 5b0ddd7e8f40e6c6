# energymon on AWS: IoT Core -> Kinesis (or SQS, buffer = "sqs") -> Lambda -> DynamoDB + S3, CloudWatch, SNS.
#
# This root is applied directly (provider settings from the environment, e.g.
# AWS_REGION/AWS_PROFILE) or called as a module from examples/<scenario>/, which
# configure the provider themselves.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  tags = merge(
    {
      Project   = "energymon"
      Stack     = var.name
      ManagedBy = "terraform"
    },
    var.tags,
  )

  kinesis      = var.buffer == "kinesis"
  customer_key = var.encryption == "customer_key"
  kms_key_arn  = local.customer_key ? aws_kms_key.this[0].arn : null
  # emf_lean and log_filters are the lean profile's metrics: its alarms are the lean ones too.
  alarm_profile = var.metrics_mode == "emf" ? "full" : "lean"

  stream_name         = "${var.name}-telemetry"
  queue_name          = "${var.name}-telemetry"
  table_name          = "${var.name}-readings"
  archive_bucket_name = coalesce(var.archive_bucket_name, "${var.name}-archive-${local.account_id}-${local.region}")
  function_name       = "${var.name}-processor"
  # Named here, not read from module.archive: the monitoring module's alarm set must be known at plan time.
  archiver_function_name = "${var.name}-archiver"
  alert_topic_name       = "${var.name}-alerts"
  # Consumption alerts (modules/alerts); settings.tf builds its ARN for sns channels without a topic_arn.
  consumption_topic_name = "${var.name}-consumption-alerts"
  device_policy_name     = "${var.name}-device"
  topic_rule_name        = replace("${var.name}_telemetry_to_${var.buffer}", "-", "_")
}

module "storage" {
  source = "./modules/storage"

  table_name                = local.table_name
  table_deletion_protection = var.table_deletion_protection
  kms_key_arn               = local.kms_key_arn

  archive_bucket_name                        = local.archive_bucket_name
  archive_force_destroy                      = var.archive_force_destroy
  archive_standard_ia_after_days             = var.archive_standard_ia_after_days
  archive_glacier_after_days                 = var.archive_glacier_after_days
  archive_expiration_days                    = var.archive_expiration_days
  archive_noncurrent_version_expiration_days = var.archive_noncurrent_version_expiration_days
  settings_document_json                     = local.settings_json

  tags = local.tags
}

module "stream" {
  source = "./modules/stream"
  count  = local.kinesis ? 1 : 0

  stream_name            = local.stream_name
  stream_mode            = var.stream_mode
  shard_count            = var.stream_shard_count
  retention_period_hours = var.stream_retention_hours
  kms_key_arn            = local.kms_key_arn

  tags = local.tags
}

moved {
  from = module.stream
  to   = module.stream[0]
}

# The lean profile's buffer (buffer = "sqs"): the IoT rule's SQS action -> this queue -> the processor's SQS
# mapping; messages it fails maximum_retry_attempts + 1 times move to the queue's dead-letter queue.
module "queue" {
  source = "./modules/queue"
  count  = local.kinesis ? 0 : 1

  queue_name = local.queue_name
  # Lambda wants at least the function timeout; AWS recommends six times it plus the batching window, so a
  # message is not received again while a slow invocation still works on it.
  visibility_timeout_seconds = 6 * var.lambda_timeout_seconds + var.maximum_batching_window_in_seconds
  max_receive_count          = var.maximum_retry_attempts + 1
  kms_key_arn                = local.kms_key_arn

  tags = local.tags
}

module "monitoring" {
  source = "./modules/monitoring"

  name_prefix      = var.name
  alert_topic_name = local.alert_topic_name
  alert_emails     = var.alert_emails
  kms_key_arn      = local.kms_key_arn

  buffer                 = var.buffer
  alarm_profile          = local.alarm_profile
  function_name          = module.processor.function_name
  archiver_function_name = local.archiver_function_name
  stream_name            = local.kinesis ? module.stream[0].stream_name : null
  queue_name             = local.kinesis ? null : module.queue[0].queue_name
  table_name             = module.storage.table_name
  dlq_name               = local.kinesis ? module.processor.dlq_name : module.queue[0].dlq_name
  create_iot_rule_alarm  = var.manage_iot_topic_rule
  iot_topic_rule_name    = local.topic_rule_name

  iterator_age_alarm_threshold_ms = var.iterator_age_alarm_threshold_ms
  create_dashboard                = var.create_dashboard

  tags = local.tags
}

module "processor" {
  source = "./modules/processor"

  function_name                  = local.function_name
  lambda_zip_path                = var.lambda_zip_path
  runtime                        = var.lambda_runtime
  memory_size                    = var.lambda_memory_size
  timeout_seconds                = var.lambda_timeout_seconds
  reserved_concurrent_executions = var.lambda_reserved_concurrent_executions
  tracing_mode                   = var.lambda_tracing_mode
  log_retention_days             = var.log_retention_days

  event_source                       = var.buffer
  stream_arn                         = local.kinesis ? module.stream[0].stream_arn : null
  queue_arn                          = local.kinesis ? null : module.queue[0].queue_arn
  sqs_maximum_concurrency            = coalesce(var.sqs_maximum_concurrency, 2)
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  parallelization_factor             = coalesce(var.parallelization_factor, 1)
  maximum_retry_attempts             = var.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.maximum_record_age_in_seconds

  table_name                   = module.storage.table_name
  table_arn                    = module.storage.table_arn
  archive_bucket_name          = module.storage.archive_bucket_name
  archive_bucket_arn           = module.storage.archive_bucket_arn
  alert_topic_arn              = module.monitoring.alert_topic_arn
  settings_object_key          = module.storage.settings_object_key
  settings_object_sha256       = local.settings_sha256
  powertools_service_name      = var.name
  powertools_metrics_namespace = var.metrics_namespace
  log_level                    = var.log_level
  metrics_mode                 = var.metrics_mode
  raw_retention_days           = var.raw_retention_days
  archive_mode                 = var.archive_mode

  kms_key_arn = local.kms_key_arn

  tags = local.tags
}

module "iot" {
  source = "./modules/iot"

  things             = local.things
  device_policy_name = local.device_policy_name
  topic_rule_name    = local.topic_rule_name
  manage_iot_policy  = var.manage_iot_policy
  manage_topic_rule  = var.manage_iot_topic_rule
  basic_ingest       = var.basic_ingest
  broker_topic       = var.broker_topic

  buffer             = var.buffer
  stream_name        = local.kinesis ? module.stream[0].stream_name : null
  stream_arn         = local.kinesis ? module.stream[0].stream_arn : null
  stream_kms_key_arn = local.kinesis ? module.stream[0].stream_kms_key_arn : null
  queue_url          = local.kinesis ? null : module.queue[0].queue_url
  queue_arn          = local.kinesis ? null : module.queue[0].queue_arn
  queue_kms_key_arn  = local.kinesis ? null : module.queue[0].queue_kms_key_arn
  error_bucket_name  = module.storage.archive_bucket_name
  error_bucket_arn   = module.storage.archive_bucket_arn
  error_key_prefix   = module.storage.archive_rejected_prefix

  tags = local.tags
}

# The hosted read API and dashboard (modules/read_api): same app as `energymon serve`,
# read-only on the table, behind a throttled API Gateway HTTP API.
module "read_api" {
  source = "./modules/read_api"
  count  = var.enable_read_api ? 1 : 0

  function_name   = "${var.name}-read-api"
  lambda_zip_path = var.lambda_zip_path
  runtime         = var.lambda_runtime

  table_name = module.storage.table_name
  table_arn  = module.storage.table_arn
  api_token  = var.read_api_token
  log_level  = var.log_level

  settings_bucket_name   = module.storage.archive_bucket_name
  settings_bucket_arn    = module.storage.archive_bucket_arn
  settings_object_key    = module.storage.settings_object_key
  settings_object_sha256 = local.settings_sha256

  throttling_burst_limit = var.read_api_throttling_burst_limit
  throttling_rate_limit  = var.read_api_throttling_rate_limit

  kms_key_arn = local.kms_key_arn

  tags = local.tags
}

# Consumption alerts: the scheduled evaluator (same zip, handler scheduled_handler) on an EventBridge
# schedule, and the consumption-alert topic beside the ops-alarm topic. Instant rules run in the processor.
module "alerts" {
  source = "./modules/alerts"

  function_name            = "${var.name}-alerts"
  lambda_zip_path          = var.lambda_zip_path
  runtime                  = var.lambda_runtime
  tracing_mode             = var.lambda_tracing_mode
  log_retention_days       = var.log_retention_days
  schedule_expression      = var.alerts_schedule_expression
  topic_name               = local.consumption_topic_name
  alert_emails_consumption = var.alert_emails_consumption

  table_name                   = module.storage.table_name
  table_arn                    = module.storage.table_arn
  archive_bucket_name          = module.storage.archive_bucket_name
  archive_bucket_arn           = module.storage.archive_bucket_arn
  settings_object_key          = module.storage.settings_object_key
  settings_object_sha256       = local.settings_sha256
  powertools_service_name      = var.name
  powertools_metrics_namespace = var.metrics_namespace
  log_level                    = var.log_level

  kms_key_arn = local.kms_key_arn

  tags = local.tags
}
