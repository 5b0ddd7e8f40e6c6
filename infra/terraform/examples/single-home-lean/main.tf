# One home for what it uses: the lean profile. The same modules, handler and data as the fleet
# design, with nothing that costs money while no reading flows:
#
#   buffer       = "sqs"          an SQS queue instead of a provisioned Kinesis shard (about 11 USD a month)
#   encryption   = "aws_managed"  SSE-S3, DynamoDB's AWS owned key, SSE-SQS: no customer managed key (1 USD)
#   metrics_mode = "logs_only"    no custom metric (0.30 USD each): the handler's metric lines are read with
#                                 Logs Insights, and only the alarms that protect data are kept, on metrics
#                                 AWS publishes itself; "emf_lean" or "log_filters" publish three metrics
#   archive_mode = "scheduled"    no S3 PUT per batch: the processor marks each UTC hour pending in the table
#                                 (one small item write an hour) and the archiver, every
#                                 archive_interval_minutes, puts one object per day of closed hours
#
#   energymon package-lambda --output build/energymon-lambda.zip
#   terraform init
#   terraform apply -var lambda_zip_path=$PWD/../../../../build/energymon-lambda.zip \
#                   -var 'alert_emails=["me@example.com"]' -var read_api_token=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')
#
# On a moto server (tests/integration/terraform/test_single_home_lean.py) set endpoint, and
# manage_iot_policy = manage_iot_topic_rule = false: moto 5.2 cannot tag IoT resources.

provider "aws" {
  region = var.region

  # Real AWS when endpoint is null; every service at one emulator URL otherwise.
  skip_credentials_validation = var.endpoint != null
  skip_requesting_account_id  = var.endpoint != null
  skip_metadata_api_check     = var.endpoint != null
  skip_region_validation      = var.endpoint != null
  s3_use_path_style           = var.endpoint != null
  max_retries                 = var.endpoint != null ? 4 : null

  endpoints {
    apigatewayv2 = var.endpoint
    cloudwatch   = var.endpoint
    dynamodb     = var.endpoint
    events       = var.endpoint
    glue         = var.endpoint
    iam          = var.endpoint
    iot          = var.endpoint
    kms          = var.endpoint
    lambda       = var.endpoint
    logs         = var.endpoint
    s3           = var.endpoint
    sns          = var.endpoint
    sqs          = var.endpoint
    sts          = var.endpoint
  }
}

module "energymon" {
  source = "../.."

  name = var.name
  tags = var.tags

  buffer       = "sqs"
  encryption   = "aws_managed"
  metrics_mode = var.metrics_mode

  archive_mode             = "scheduled"
  archive_interval_minutes = var.archive_interval_minutes

  devices = {
    (var.device_id) = { label = var.home_label, tariff = var.tariff }
  }
  default_timezone = var.default_timezone

  lambda_zip_path = var.lambda_zip_path
  alert_emails    = var.alert_emails

  # One home publishing every few seconds: a batch per minute at most, so the processor runs (and writes
  # the archive) about 1,440 times a day rather than 8,640.
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds

  # The CloudWatch dashboard costs 3 USD a month beyond the account's first three.
  create_dashboard = false

  enable_read_api = var.enable_read_api
  read_api_token  = var.read_api_token

  manage_iot_policy         = var.manage_iot_policy
  manage_iot_topic_rule     = var.manage_iot_topic_rule
  table_deletion_protection = var.table_deletion_protection
  archive_force_destroy     = var.archive_force_destroy
}
