output "queue_name" {
  description = "Name of the telemetry queue."
  value       = aws_sqs_queue.this.name
}

output "queue_arn" {
  description = "ARN of the telemetry queue (the event source mapping's source, the IoT rule's target)."
  value       = aws_sqs_queue.this.arn
}

output "queue_url" {
  description = "URL of the telemetry queue."
  value       = aws_sqs_queue.this.url
}

output "dlq_name" {
  description = "Name of the dead-letter queue (messages the processor failed max_receive_count times)."
  value       = aws_sqs_queue.dlq.name
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = aws_sqs_queue.dlq.url
}

output "queue_kms_key_arn" {
  description = "ARN of the KMS key of both queues, or null under SSE-SQS; producers need kms:GenerateDataKey and kms:Decrypt on it, consumers kms:Decrypt."
  value       = var.kms_key_arn
}
