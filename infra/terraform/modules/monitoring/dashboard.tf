locals {
  region = data.aws_region.current.name

  dashboard_widgets = concat(
    [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title  = "Processor invocations, errors, throttles"
          region = local.region
          stat   = "Sum"
          period = 60
          metrics = [
            ["AWS/Lambda", "Invocations", "FunctionName", var.function_name],
            ["AWS/Lambda", "Errors", "FunctionName", var.function_name],
            ["AWS/Lambda", "Throttles", "FunctionName", var.function_name],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title  = "Processor lag (IteratorAge, ms) and duration"
          region = local.region
          stat   = "Maximum"
          period = 60
          metrics = [
            ["AWS/Lambda", "IteratorAge", "FunctionName", var.function_name],
            ["AWS/Lambda", "Duration", "FunctionName", var.function_name],
          ]
        }
      },
      local.kinesis ? {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title  = "Stream records and throttling"
          region = local.region
          stat   = "Sum"
          period = 60
          metrics = [
            ["AWS/Kinesis", "IncomingRecords", "StreamName", var.stream_name],
            ["AWS/Kinesis", "WriteProvisionedThroughputExceeded", "StreamName", var.stream_name],
            ["AWS/Kinesis", "ReadProvisionedThroughputExceeded", "StreamName", var.stream_name],
          ]
        }
        } : {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title  = "Queue messages sent, waiting, oldest (s)"
          region = local.region
          stat   = "Maximum"
          period = 60
          metrics = [
            ["AWS/SQS", "NumberOfMessagesSent", "QueueName", var.queue_name],
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_name],
            ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", var.queue_name],
          ]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title  = "Table capacity used"
          region = local.region
          stat   = "Sum"
          period = 60
          metrics = [
            ["AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", var.table_name],
            ["AWS/DynamoDB", "ConsumedReadCapacityUnits", "TableName", var.table_name],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 12, width = 12, height = 6
        properties = {
          title  = local.kinesis ? "Failed batches waiting in the on-failure queue" : "Messages waiting in the dead-letter queue"
          region = local.region
          stat   = "Maximum"
          period = 60
          metrics = [
            ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.dlq_name],
          ]
        }
      },
      {
        type = "alarm", x = 12, y = 12, width = 12, height = 6
        properties = {
          title  = "Alarms"
          alarms = concat([for a in aws_cloudwatch_metric_alarm.this : a.arn], aws_cloudwatch_metric_alarm.dynamodb_throttled_requests[*].arn, aws_cloudwatch_metric_alarm.processor_silent_stop[*].arn)
        }
      },
    ],
    var.create_iot_rule_alarm ? [
      {
        type = "metric", x = 0, y = 18, width = 24, height = 6
        properties = {
          title  = "IoT topic rule"
          region = local.region
          stat   = "Sum"
          period = 60
          metrics = [
            ["AWS/IoT", "TopicMatch", "RuleName", var.iot_topic_rule_name],
            ["AWS/IoT", "Success", "RuleName", var.iot_topic_rule_name, "ActionType", local.rule_action_type],
            ["AWS/IoT", "Failure", "RuleName", var.iot_topic_rule_name, "ActionType", local.rule_action_type],
            ["AWS/IoT", "ParseError", "RuleName", var.iot_topic_rule_name],
          ]
        }
      },
    ] : [],
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = "${var.name_prefix}-overview"
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
