# The whole stack against a moto server (python -m moto.server -p 5000), used by
# tests/integration/terraform. Credentials come from the environment
# (AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing).
#
# Differences from a real deployment, all forced by the emulator and nothing else:
#   * manage_iot_policy / manage_iot_topic_rule = false: moto 5.2 has no IoT
#     ListTagsForResource, which the provider calls after creating a policy or rule.
#     The policy document is still rendered (output iot_device_policy_document).
#   * table_deletion_protection = false, archive_force_destroy = true: throw-away stack.

provider "aws" {
  region = var.region

  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  s3_use_path_style           = true
  max_retries                 = 4 # a loaded moto server sometimes drops a keep-alive connection

  endpoints {
    apigatewayv2 = var.moto_endpoint
    cloudwatch   = var.moto_endpoint
    dynamodb     = var.moto_endpoint
    events       = var.moto_endpoint
    glue         = var.moto_endpoint
    iam          = var.moto_endpoint
    iot          = var.moto_endpoint
    kinesis      = var.moto_endpoint
    kms          = var.moto_endpoint
    lambda       = var.moto_endpoint
    logs         = var.moto_endpoint
    s3           = var.moto_endpoint
    sns          = var.moto_endpoint
    sqs          = var.moto_endpoint
    sts          = var.moto_endpoint
  }
}

module "energymon" {
  source = "../.."

  name = var.name
  tags = var.tags

  default_timezone = var.default_timezone
  devices          = var.devices
  things           = var.things

  lambda_zip_path = var.lambda_zip_path
  alert_emails    = var.alert_emails

  alerts_schedule_expression = var.alerts_schedule_expression
  alert_emails_consumption   = var.alert_emails_consumption
  # A time-driven rule only (the processor judges none): the stack's own consumption-alert topic.
  alerts = {
    rules    = [{ name = "meter-offline", kind = "no_data", device = "*", for_s = 900, channels = ["phone"] }]
    channels = [{ name = "phone", kind = "sns" }]
  }

  raw_retention_days                 = var.raw_retention_days
  archive_mode                       = var.archive_mode
  archive_interval_minutes           = var.archive_interval_minutes
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds

  manage_iot_policy         = false
  manage_iot_topic_rule     = false
  table_deletion_protection = false
  archive_force_destroy     = true
  kms_deletion_window_days  = 7

  read_api_token = var.read_api_token
}
