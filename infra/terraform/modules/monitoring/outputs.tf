output "alert_topic_arn" {
  description = "ARN of the SNS alert topic."
  value       = aws_sns_topic.alerts.arn
}

output "alert_topic_name" {
  description = "Name of the SNS alert topic."
  value       = aws_sns_topic.alerts.name
}

output "alert_subscription_arns" {
  description = "ARNs of the e-mail subscriptions, keyed by address (\"pending confirmation\" until confirmed)."
  value       = { for email, s in aws_sns_topic_subscription.email : email => s.arn }
}

output "alarm_names" {
  description = "Names of all CloudWatch alarms, keyed by what they watch."
  value = merge(
    { for k, a in aws_cloudwatch_metric_alarm.this : k => a.alarm_name },
    { for a in aws_cloudwatch_metric_alarm.dynamodb_throttled_requests : "dynamodb_throttled_requests" => a.alarm_name },
    { for a in aws_cloudwatch_metric_alarm.processor_silent_stop : "processor_silent_stop" => a.alarm_name },
  )
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard (null when create_dashboard is false)."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}
