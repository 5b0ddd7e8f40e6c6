locals {
  alarm_actions = [aws_sns_topic.alerts.arn]
  kinesis       = var.buffer == "kinesis"
  full          = var.alarm_profile == "full"
  # The IoT rule action's type as AWS/IoT names it in its ActionType dimension.
  rule_action_type = local.kinesis ? "Kinesis" : "SQS"

  # Single-metric alarms: key => definition. Every one notifies the alert topic when it
  # fires and when it recovers; missing data (an idle stack) is not an incident.
  # The lean profile keeps only the alarms that say readings are failing, waiting or lost:
  # processor errors, the oldest unprocessed record's age, the dead-letter queue, and the
  # IoT rule's error action; throttling shows up there too once it costs data.
  metric_alarms = merge(
    {
      lambda_errors = {
        description = "The processor Lambda raised errors (whole batches failed; they are retried, then sent to the on-failure queue)."
        namespace   = "AWS/Lambda"
        metric_name = "Errors"
        statistic   = "Sum"
        threshold   = 0
        dimensions  = { FunctionName = var.function_name }
      }
      dlq_messages_visible = {
        description = local.kinesis ? "Failed batches are waiting in the on-failure queue: re-read their records from the stream before its retention runs out." : "Messages the processor failed on every receive are waiting in the dead-letter queue: look at them, fix the cause, then redrive them to the telemetry queue."
        namespace   = "AWS/SQS"
        metric_name = "ApproximateNumberOfMessagesVisible"
        statistic   = "Maximum"
        threshold   = 0
        dimensions  = { QueueName = var.dlq_name }
      }
    },
    local.full ? {
      lambda_throttles = {
        description = "The processor Lambda was throttled (reserved concurrency too low for shards x parallelization factor)."
        namespace   = "AWS/Lambda"
        metric_name = "Throttles"
        statistic   = "Sum"
        threshold   = 0
        dimensions  = { FunctionName = var.function_name }
      }
    } : {},
    local.kinesis ? {
      lambda_iterator_age = {
        description = "The processor is falling behind the stream: the oldest record of the last batch is older than the threshold."
        namespace   = "AWS/Lambda"
        metric_name = "IteratorAge"
        statistic   = "Maximum"
        threshold   = var.iterator_age_alarm_threshold_ms
        dimensions  = { FunctionName = var.function_name }
      }
      kinesis_write_throughput_exceeded = {
        description = "Writes to the stream were throttled (the IoT rule could not put records; they went to its error action's rejected/ prefix): add shards or switch to ON_DEMAND."
        namespace   = "AWS/Kinesis"
        metric_name = "WriteProvisionedThroughputExceeded"
        statistic   = "Sum"
        threshold   = 0
        dimensions  = { StreamName = var.stream_name }
      }
      } : {
      # The SQS equivalent of IteratorAge: how long the oldest unprocessed message has waited. It also catches
      # a processor that is not invoked at all (mapping disabled, role broken), which IteratorAge cannot.
      queue_oldest_message_age = {
        description = "The processor is falling behind the queue (or not polling it): the oldest message has waited longer than the threshold."
        namespace   = "AWS/SQS"
        metric_name = "ApproximateAgeOfOldestMessage"
        statistic   = "Maximum"
        threshold   = ceil(var.iterator_age_alarm_threshold_ms / 1000)
        dimensions  = { QueueName = var.queue_name }
      }
    },
    local.kinesis && local.full ? {
      kinesis_read_throughput_exceeded = {
        description = "Reads from the stream were throttled: too many consumers or GetRecords calls per shard."
        namespace   = "AWS/Kinesis"
        metric_name = "ReadProvisionedThroughputExceeded"
        statistic   = "Sum"
        threshold   = 0
        dimensions  = { StreamName = var.stream_name }
      }
    } : {},
    # The archiver copies each closed hour to S3 under archive_mode = scheduled (until then the table holds
    # the only copy, and its TTL runs at raw_retention_days), pins late-data openers and compacts the days:
    # in both profiles its failure is one that costs data if nobody hears of it.
    var.archiver_function_name == null ? {} : {
      archiver_errors = {
        description = "The archiver Lambda failed: closed hours are not copied to S3 (archive_mode = scheduled), late-data openers not pinned and closed days not compacted until a run succeeds. Under archive_mode = scheduled, readings the archiver never copies are lost to the table's TTL after raw_retention_days."
        namespace   = "AWS/Lambda"
        metric_name = "Errors"
        statistic   = "Sum"
        threshold   = 0
        dimensions  = { FunctionName = var.archiver_function_name }
      }
    },
    # AWS/IoT publishes rule metrics with RuleName only, and rule-action metrics with RuleName + ActionType
    # (AWS IoT developer guide, "Rule metrics" / "Rule action metrics"). ActionType is the action's type as
    # the console shows it ("Kinesis", "SQS", "S3"), not the API key ("kinesis", "sqs", "s3").
    var.create_iot_rule_alarm ? {
      iot_rule_error_action_failure = {
        description = "The IoT rule's error action could not write to the archive bucket's rejected/ prefix: those messages are lost."
        namespace   = "AWS/IoT"
        metric_name = "ErrorActionFailure"
        statistic   = "Sum"
        threshold   = 0
        dimensions  = { RuleName = var.iot_topic_rule_name, ActionType = "S3" }
      }
    } : {},
    var.create_iot_rule_alarm && local.full ? {
      iot_rule_failure = {
        description = "The IoT topic rule failed to deliver messages to the ${local.rule_action_type} buffer (they went to the error action's rejected/ prefix)."
        namespace   = "AWS/IoT"
        metric_name = "Failure"
        statistic   = "Sum"
        threshold   = 0
        dimensions  = { RuleName = var.iot_topic_rule_name, ActionType = local.rule_action_type }
      }
      iot_rule_parse_error = {
        description = "Messages on the telemetry topic were not JSON: the rule dropped them before any action (they are in no dead-letter list; only this metric counts them)."
        namespace   = "AWS/IoT"
        metric_name = "ParseError"
        statistic   = "Sum"
        threshold   = 0
        dimensions  = { RuleName = var.iot_topic_rule_name }
      }
    } : {},
  )
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.metric_alarms

  alarm_name          = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  statistic           = each.value.statistic
  dimensions          = each.value.dimensions
  period              = var.alarm_period_seconds
  evaluation_periods  = var.alarm_evaluation_periods
  datapoints_to_alarm = var.alarm_evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions

  tags = var.tags
}

# DynamoDB publishes ThrottledRequests per (TableName, Operation) and nothing per table alone: sum the
# operations the processor and the query side call (tests/integration/terraform/test_alarms.py records
# them from a handler run and fails when one has no metric here).
resource "aws_cloudwatch_metric_alarm" "dynamodb_throttled_requests" {
  count = local.full ? 1 : 0

  alarm_name          = "${var.name_prefix}-dynamodb-throttled-requests"
  alarm_description   = "Requests to the DynamoDB table were throttled."
  evaluation_periods  = var.alarm_evaluation_periods
  datapoints_to_alarm = var.alarm_evaluation_periods
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "throttled"
    expression  = join(" + ", [for i, op in var.dynamodb_operations : "FILL(m${i}, 0)"])
    label       = "ThrottledRequests (all operations)"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = var.dynamodb_operations
    content {
      id = "m${metric_query.key}"

      metric {
        namespace   = "AWS/DynamoDB"
        metric_name = "ThrottledRequests"
        period      = var.alarm_period_seconds
        stat        = "Sum"
        dimensions = {
          TableName = var.table_name
          Operation = metric_query.value
        }
      }
    }
  }

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions

  tags = var.tags
}

# A silent stop: records keep arriving on the stream but the processor is not invoked (mapping disabled,
# deleted or stuck on permissions; function throttled to zero). Lambda publishes no Invocations datapoint
# at all when it is not invoked, so its missing data counts as 0; when the stream has no records either
# (an idle stack) the expression has no datapoint and the alarm stays OK. Two periods in a row, so a
# batching window that carries records into the next period never fires it.
# Kinesis only: with SQS, queue_oldest_message_age sees a processor that is never invoked.
resource "aws_cloudwatch_metric_alarm" "processor_silent_stop" {
  count = local.kinesis ? 1 : 0

  alarm_name          = "${var.name_prefix}-processor-silent-stop"
  alarm_description   = "Records arrive on the Kinesis stream but the processor Lambda is not invoked: readings are piling up unprocessed until the stream's retention drops them."
  evaluation_periods  = var.silent_stop_evaluation_periods
  datapoints_to_alarm = var.silent_stop_evaluation_periods
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "stalled"
    expression  = "IF(FILL(incoming, 0) > 0 AND FILL(invocations, 0) == 0, 1, 0)"
    label       = "Records arriving while the processor is not invoked"
    return_data = true
  }

  metric_query {
    id = "incoming"

    metric {
      namespace   = "AWS/Kinesis"
      metric_name = "IncomingRecords"
      period      = var.alarm_period_seconds
      stat        = "Sum"
      dimensions  = { StreamName = var.stream_name }
    }
  }

  metric_query {
    id = "invocations"

    metric {
      namespace   = "AWS/Lambda"
      metric_name = "Invocations"
      period      = var.alarm_period_seconds
      stat        = "Sum"
      dimensions  = { FunctionName = var.function_name }
    }
  }

  alarm_actions = local.alarm_actions
  ok_actions    = local.alarm_actions

  tags = var.tags
}

moved {
  from = aws_cloudwatch_metric_alarm.dynamodb_throttled_requests
  to   = aws_cloudwatch_metric_alarm.dynamodb_throttled_requests[0]
}

moved {
  from = aws_cloudwatch_metric_alarm.processor_silent_stop
  to   = aws_cloudwatch_metric_alarm.processor_silent_stop[0]
}
