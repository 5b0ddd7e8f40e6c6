# One apartment, one metering box, real AWS. The cheapest sensible shape:
# one provisioned shard, Lambda arm64, on-demand DynamoDB.
#
#   energymon package-lambda --output build/energymon-lambda.zip
#   terraform init
#   terraform apply -var lambda_zip_path=$PWD/../../../../build/energymon-lambda.zip \
#                   -var 'alert_emails=["me@example.com"]' -var read_api_token=$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')

provider "aws" {
  region = var.region

  default_tags {
    tags = var.tags
  }
}

module "energymon" {
  source = "../.."

  name = var.name
  tags = var.tags

  # The box's settings: the same document the local runtime builds from [devices."<id>"] in its TOML file.
  devices = {
    (var.device_id) = { label = var.apartment, tariff = var.tariff }
  }
  things = var.device_certificate_csr == null ? {} : {
    (var.device_id) = { certificate_csr = var.device_certificate_csr }
  }

  lambda_zip_path  = var.lambda_zip_path
  alert_emails     = var.alert_emails
  default_timezone = var.default_timezone

  stream_mode        = "PROVISIONED"
  stream_shard_count = 1

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds

  read_api_token = var.read_api_token
}
