# metrics_mode = "log_filters": the processor writes no EMF, only one JSON log line per metric
# ({"energymon_metric": "<name>", "value": <n>, "unit": "Count"|"Seconds", ...}, energymon.adapters.aws.emf_metrics),
# and these filters publish the lean three from its log group. Other metric lines stay searchable log lines.

locals {
  log_filter_metrics = var.metrics_mode == "log_filters" ? {
    readings_processed = { unit = "Count" }
    readings_rejected  = { unit = "Count" }
    batch_seconds      = { unit = "Seconds" }
  } : {}
}

resource "aws_cloudwatch_log_metric_filter" "this" {
  for_each = local.log_filter_metrics

  name           = "${var.function_name}-${replace(each.key, "_", "-")}"
  log_group_name = aws_cloudwatch_log_group.this.name
  pattern        = "{ $.energymon_metric = \"${each.key}\" }"

  metric_transformation {
    name      = each.key
    namespace = var.powertools_metrics_namespace
    value     = "$.value"
    unit      = each.value.unit
  }
}
