"""The two AWS deployment profiles the bill prices: what each one runs, counted from its Terraform.

``fleet`` is the design of infra/terraform as it is applied today (Kinesis, a customer-managed key, the full
alarm set, EMF metrics, one archive object per batch). ``lean`` is the single-home profile of issue 17: an SQS
buffer, AWS-managed encryption, the data-protecting alarms only, three custom metrics, and an archive written
by a scheduled function once per N minutes.

The alarm tables below are checked against the Terraform: tests/unit/test_cost_model.py reads the source (every
declared alarm must be priced in a profile), tests/integration/terraform/test_alarms.py the alarms ``terraform apply``
creates (exactly the fleet's), so adding an alarm without pricing it fails a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FLEET_ALARMS", "LEAN_ALARMS", "METRIC_SETS", "PROFILES", "Profile", "profile_named"]

#: Alarm name (the key in modules/monitoring/alarms.tf) -> metrics it lists. CloudWatch bills an alarm per
#: metric it evaluates: a metric-math alarm over 7 metrics costs 7 standard alarms.
FLEET_ALARMS: dict[str, int] = {
    "lambda_errors": 1,
    "lambda_throttles": 1,
    "lambda_iterator_age": 1,
    "kinesis_write_throughput_exceeded": 1,
    "kinesis_read_throughput_exceeded": 1,
    "dlq_messages_visible": 1,
    "iot_rule_failure": 1,
    "iot_rule_parse_error": 1,
    "iot_rule_error_action_failure": 1,
    "dynamodb_throttled_requests": 7,  # one ThrottledRequests metric per operation (var.dynamodb_operations)
    "processor_silent_stop": 2,  # Kinesis IncomingRecords and Lambda Invocations
    "archiver_errors": 1,
}

#: The lean profile keeps the alarms that protect data: a failing handler, failed messages waiting in the
#: dead-letter queue, messages ageing in the buffer (the queue's retention would drop them), the IoT rule's
#: error action failing (those messages are lost), and a failing archiver (under the scheduled archive the table
#: holds the only copy of an hour until it runs) — the set the lean Terraform (alarm_profile = "lean") creates.
LEAN_ALARMS: dict[str, int] = {
    "lambda_errors": 1,
    "dlq_messages_visible": 1,
    "queue_oldest_message_age": 1,
    "iot_rule_error_action_failure": 1,
    "archiver_errors": 1,
}


@dataclass(frozen=True)
class Profile:
    name: str
    buffer: Literal["kinesis", "sqs"]
    customer_managed_key: bool
    alarms: dict[str, int]
    steady_metrics: tuple[str, ...]  # custom metrics published in every hour with traffic
    event_metrics: tuple[str, ...]  # published only in an hour when the event happens (CloudWatch bills by the hour)
    scheduled_archive: bool  # Terraform's archive_mode: False per_batch (an object per batch), True scheduled
    batching_window_s: float  # the event source mapping's MaximumBatchingWindowInSeconds in the profile's Terraform
    publish_interval_s: float  # seconds of samples per device message the profile is priced with

    @property
    def alarm_metrics(self) -> int:
        return sum(self.alarms.values())


PROFILES: dict[str, Profile] = {
    "fleet": Profile(
        "fleet", "kinesis", customer_managed_key=True, alarms=FLEET_ALARMS,
        steady_metrics=("readings_processed", "batch_seconds"),
        event_metrics=("readings_rejected", "device_write_failures", "archive_failures",
                       "alert_evaluation_failures"),
        scheduled_archive=False, batching_window_s=10.0, publish_interval_s=10.0,
    ),
    # metrics_mode = "logs_only", the lean example's default: no custom metric (METRIC_SETS for the others).
    # archive_mode = "scheduled", as the lean example deploys it: hour markers in the table, one object per run.
    "lean": Profile(
        "lean", "sqs", customer_managed_key=False, alarms=LEAN_ALARMS,
        steady_metrics=(),
        event_metrics=(),
        scheduled_archive=True, batching_window_s=60.0, publish_interval_s=30.0,
    ),
}


#: Terraform's archive_mode values.
ARCHIVE_MODES = ("per_batch", "scheduled")

#: Terraform's metrics_mode -> (custom metrics published every hour, metrics published only in hours with events).
METRIC_SETS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "emf": (PROFILES["fleet"].steady_metrics, PROFILES["fleet"].event_metrics),
    "emf_lean": (("readings_processed", "batch_seconds"), ("readings_rejected",)),
    "log_filters": (("readings_processed", "batch_seconds"), ("readings_rejected",)),
    "logs_only": ((), ()),
}


def profile_named(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}: choose {' or '.join(PROFILES)}") from None
