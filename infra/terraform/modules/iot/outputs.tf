output "thing_names" {
  description = "Names of the IoT things."
  value       = sort([for t in aws_iot_thing.this : t.name])
}

output "thing_arns" {
  description = "ARNs of the IoT things, keyed by thing name."
  value       = { for name, t in aws_iot_thing.this : name => t.arn }
}

output "certificate_arns" {
  description = "ARNs of the certificates registered from device CSRs, keyed by thing name."
  value       = { for name, c in aws_iot_certificate.this : name => c.arn }
}

output "device_policy_name" {
  description = "Name of the device IoT policy (null when manage_iot_policy is false)."
  value       = try(aws_iot_policy.device[0].name, null)
}

output "device_policy_document" {
  description = "JSON of the device IoT policy, rendered even when the policy itself is not managed (for review and tests)."
  value       = data.aws_iam_policy_document.device.json
}

output "topic_rule_name" {
  description = "Name of the IoT topic rule (null when manage_topic_rule is false)."
  value       = try(aws_iot_topic_rule.telemetry[0].name, null)
}

output "topic_rule_arn" {
  description = "ARN of the IoT topic rule (null when manage_topic_rule is false)."
  value       = try(aws_iot_topic_rule.telemetry[0].arn, null)
}

output "topic_rule_sql" {
  description = "SQL of the topic rule."
  value       = local.topic_rule_sql
}

output "topic_rule_role_arn" {
  description = "ARN of the role the topic rule uses for its Kinesis and error actions."
  value       = aws_iam_role.topic_rule.arn
}

output "topic_rule_role_name" {
  description = "Name of the role the topic rule uses for its Kinesis and error actions."
  value       = aws_iam_role.topic_rule.name
}

output "basic_ingest_topic_prefix" {
  description = "Topic prefix of Basic Ingest for this rule ($aws/rules/<rule>), or null when basic_ingest is false: devices publish to <prefix>/<topic_root>/<thing>/telemetry."
  value       = var.basic_ingest ? local.basic_ingest_prefix : null
}
