output "stream_name" {
  description = "Name of the Kinesis data stream."
  value       = aws_kinesis_stream.this.name
}

output "stream_arn" {
  description = "ARN of the Kinesis data stream."
  value       = aws_kinesis_stream.this.arn
}

output "stream_mode" {
  description = "Capacity mode of the stream (PROVISIONED or ON_DEMAND)."
  value       = var.stream_mode
}

output "stream_kms_key_arn" {
  description = "ARN of the KMS key that encrypts the stream; producers need kms:GenerateDataKey and consumers kms:Decrypt on it."
  value       = var.kms_key_arn
}
