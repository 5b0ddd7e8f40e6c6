"""A monthly cost model of the AWS runtime, per deployment profile (profiles.py): ``fleet`` (IoT Core → Kinesis →
Lambda → DynamoDB + S3, CloudWatch, KMS) and ``lean`` (IoT Core → SQS → the same Lambda handler, AWS-managed keys,
a scheduled archive).

Every line is a quantity times a price from ``prices-*.json``; the quantities follow from how the pipeline
behaves (one MQTT message per publish interval, one Lambda invocation per batch, the DynamoDB units and S3 PUTs
per reading measured by ``benchmarks/bench_cost_profiles.py``). :func:`assumptions` lists the derived traffic
figures the lines rest on, so a reader can check each line by hand.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

from energymon.deploy.bill.profiles import ARCHIVE_MODES, METRIC_SETS, Profile, profile_named

__all__ = ["Assumption", "CostLine", "Deployment", "Traffic", "assumptions", "estimate", "free_tier_credits",
           "load_prices", "traffic"]

SECONDS_PER_MONTH = 30 * 24 * 3600
HOURS_PER_MONTH = SECONDS_PER_MONTH / 3600
DEFAULT_PRICES = "prices-us-east-1-2026-11.json"


def load_prices(name: str = DEFAULT_PRICES) -> dict[str, Any]:
    return dict(json.loads(resources.files("energymon.deploy.bill").joinpath(name).read_text()))


@dataclass(frozen=True)
class Deployment:
    """The knobs that move the bill; defaults are the Terraform defaults and the simulator's rates."""

    apartments: int = 1
    profile: str = "fleet"
    sample_hz: float = 1.0
    # Seconds of samples per MQTT message (the agent's batch_interval_s); None: the profile's (fleet 10 s; lean
    # 30 s, since every message costs IoT Core, SQS and Lambda requests while the samples stay at 1 Hz).
    publish_interval_s: float | None = None
    bytes_per_sample: int = 75  # one canonical sample in JSON
    batch_size: int = 100
    batching_window_s: float | None = None  # None: the profile's (fleet 10 s, lean 60 s as its Terraform example)
    shards: int = 1
    # Devices publish through IoT Core's Basic Ingest ($aws/rules/<rule>/...: the rule without the message broker,
    # no messaging charge; Terraform's basic_ingest, on by default); False: the broker topic, metered per 5 KB.
    basic_ingest: bool = True
    lambda_memory_mb: int = 256
    lambda_ms_per_invocation: float = 150.0  # processing + DynamoDB/S3 round trips
    # Write and read units of one device's share of a batch, measured through the handler (BENCHMARKS.md, "Cost
    # profiles", 120 simulated minutes after a 75-minute warm-up, so two hour closes are in it): a fixed part (the
    # device item, the minute item the batch rewrites, hour items; one strongly consistent GetItem of the device
    # and one Query of the batch's minutes) and a part per reading in the batch. 10 readings per batch: 2.17 WCU
    # (0.217 a reading) and 2.02 RCU; 60 readings: 3.05 WCU and 2.10 RCU.
    wcu_per_device_batch: float = 2.0
    wcu_per_reading_in_batch: float = 0.0176
    rcu_per_device_batch: float = 2.0
    rcu_per_reading_in_batch: float = 0.0016
    dynamodb_bytes_per_device_minute: int = 200
    archive_bytes_per_reading: float = 12.0  # gzip NDJSON
    # Lambda log bytes per invocation: the platform's START/END/REPORT lines (~330 B) plus what the handler
    # prints (its EMF metrics line; measured in BENCHMARKS.md, "Cost profiles").
    log_bytes_per_invocation: float = 615.0  # measured 613-614
    # Share of hours in which an event-only metric (rejections, write failures) is published at all.
    event_metric_hours_fraction: float = 0.05
    # The customer-managed key (fleet): callers that each ask KMS for a data key about every 5 minutes
    # (IoT rule and Lambda on the Kinesis stream, the processor, read API and alert functions on the table).
    kms_callers: int = 5
    # The lean profile's SQS event source mapping: Lambda keeps long-polling (20 s) with this many pollers
    # while the queue is quiet (None: the price table's documented figure).
    sqs_idle_pollers: int | None = None
    # Terraform's archive_mode: None the profile's (fleet per_batch, lean scheduled). Scheduled: the processor
    # marks each (UTC hour, device) pending in the table and the archiver, every archive_interval_min, reads the
    # closed hours back from the minute items and puts one object per UTC date. Measured (BENCHMARKS.md,
    # "Archive modes", one home, 60 s batches): 4 marker writes per device-hour (1 WCU each: the hour's first
    # batch, two in its last 2 minutes, the first after it), 1 DeleteItem per archived marker, 7 strongly
    # consistent RCU per device-hour read back (5 Queries), 1 PUT per run that finds a closed hour.
    archive_mode: str | None = None
    archive_interval_min: float = 60.0
    archive_ms_per_run: float = 300.0
    archive_ms_per_apartment: float = 20.0
    archive_marker_wcu_per_device_hour: float = 4.0
    archive_rcu_per_device_hour: float = 7.0
    # The hosted read API (modules/read_api), per apartment: one visit = page, script, style, devices, raw power,
    # today and history (7 requests; plotly.min.js is cached for a day and metered as 10 x 512 KB), then a
    # minute of polling power and today every 5 s (24 requests).
    dashboard_visits_per_day: float = 20.0
    requests_per_visit: float = 31.0
    plotly_loads_per_day: float = 1.0
    read_api_memory_mb: int = 512
    read_api_ms_per_request: float = 100.0
    read_api_rcu_per_request: float = 2.0  # Query pages of hour/minute items, eventually consistent
    # The scheduled alert function (modules/alerts): one tick per schedule period for the whole stack; each
    # tick reads the alert states and outbox, and per apartment its recent minutes (estimates, not measured).
    metrics_mode: str | None = None  # Terraform's metrics_mode; None: the profile's (fleet emf, lean logs_only)
    alert_ticks_per_hour: float = 60.0  # rate(1 minute)
    alert_memory_mb: int = 256
    alert_ms_per_tick: float = 200.0
    alert_ms_per_apartment: float = 10.0
    alert_rcu_per_apartment_tick: float = 1.0

    def __post_init__(self) -> None:
        profile_named(self.profile)
        if self.archive_mode is not None and self.archive_mode not in ARCHIVE_MODES:
            raise ValueError(f"unknown archive mode {self.archive_mode!r}: choose {', '.join(ARCHIVE_MODES)}")
        if self.metrics_mode is not None and self.metrics_mode not in METRIC_SETS:
            raise ValueError(f"unknown metrics mode {self.metrics_mode!r}: choose {', '.join(METRIC_SETS)}")
        if self.apartments < 1:
            raise ValueError(f"apartments must be at least 1 (got {self.apartments})")
        if not 0 < self.sample_hz <= 10:
            raise ValueError(f"sample rate must be in (0, 10] Hz (got {self.sample_hz:g})")
        if self.publish_interval_s is not None and not 1 <= self.publish_interval_s <= 3600:
            raise ValueError(f"publish interval must be 1-3600 s (got {self.publish_interval_s:g})")
        if self.shards < 1:
            raise ValueError(f"shards must be at least 1 (got {self.shards})")
        if self.dashboard_visits_per_day < 0:
            raise ValueError(f"dashboard visits per day cannot be negative (got {self.dashboard_visits_per_day:g})")
        if not 5 <= self.archive_interval_min <= 1440:  # Terraform's archive_interval_minutes
            raise ValueError(f"archive interval must be 5-1440 minutes (got {self.archive_interval_min:g})")
        if self.batching_window_s is not None and not 0 <= self.batching_window_s <= 300:
            raise ValueError(f"batching window must be 0-300 s (got {self.batching_window_s:g})")
        if not 1 <= self.batch_size <= 10_000:
            raise ValueError(f"batch size must be 1-10000 (got {self.batch_size})")
        if self.sqs_idle_pollers is not None and not 1 <= self.sqs_idle_pollers <= 1000:
            raise ValueError(f"SQS pollers must be 1-1000 (got {self.sqs_idle_pollers})")

    @property
    def spec(self) -> Profile:
        return profile_named(self.profile)

    @property
    def scheduled_archive(self) -> bool:
        return self.spec.scheduled_archive if self.archive_mode is None else self.archive_mode == "scheduled"

    @property
    def window_s(self) -> float:
        return self.spec.batching_window_s if self.batching_window_s is None else self.batching_window_s

    @property
    def message_interval_s(self) -> float:
        return self.spec.publish_interval_s if self.publish_interval_s is None else self.publish_interval_s


@dataclass(frozen=True)
class CostLine:
    service: str
    item: str
    quantity: float
    unit: str
    monthly_usd: float
    meter: str = ""  # what a free-tier allowance is counted against ("" = none)


@dataclass(frozen=True)
class Assumption:
    name: str
    value: float
    unit: str


@dataclass(frozen=True)
class Traffic:
    """What flows in a month, derived from the deployment (shown by :func:`assumptions`)."""

    messages_per_s: float
    messages: float
    readings: float
    message_bytes: float
    invocations: float
    records_per_batch: float
    devices_per_batch: float
    readings_per_device_batch: float
    sqs_pollers: int

    def wcu_per_reading(self, d: Deployment) -> float:
        return (d.wcu_per_device_batch + d.wcu_per_reading_in_batch * self.readings_per_device_batch) / (
            self.readings_per_device_batch)

    def rcu_per_device_batch(self, d: Deployment) -> float:
        return d.rcu_per_device_batch + d.rcu_per_reading_in_batch * self.readings_per_device_batch


def traffic(d: Deployment, p: dict[str, Any]) -> Traffic:
    month = SECONDS_PER_MONTH
    messages_per_s = d.apartments / d.message_interval_s
    pollers = d.sqs_idle_pollers or int(p["lambda_sqs_idle_pollers"])
    # A batch is handed over when it is full or its window ends, per lane: a shard (Kinesis) or a poller (SQS).
    lanes = d.shards if d.spec.buffer == "kinesis" else pollers
    per_s = max(messages_per_s / d.batch_size, lanes / d.window_s) if d.window_s else messages_per_s
    invocations_per_s = min(per_s, messages_per_s)
    devices_per_batch = min(d.apartments, messages_per_s / invocations_per_s)
    return Traffic(
        messages_per_s=messages_per_s,
        messages=messages_per_s * month,
        readings=d.apartments * month * d.sample_hz,
        message_bytes=60 + d.bytes_per_sample * d.sample_hz * d.message_interval_s,
        invocations=invocations_per_s * month,
        records_per_batch=messages_per_s / invocations_per_s,
        devices_per_batch=devices_per_batch,
        readings_per_device_batch=messages_per_s / invocations_per_s / devices_per_batch * d.sample_hz
        * d.message_interval_s,
        sqs_pollers=pollers,
    )


def assumptions(d: Deployment, prices: dict[str, Any] | None = None) -> list[Assumption]:
    p = prices or load_prices()
    t = traffic(d, p)
    rows = [
        Assumption("MQTT messages per second (all apartments)", t.messages_per_s, "msg/s"),
        Assumption("samples per message", d.sample_hz * d.message_interval_s, "samples"),
        Assumption("message size", t.message_bytes, "bytes"),
        Assumption("handler invocations (batches) per month", t.invocations, "batches"),
        Assumption("messages per batch", t.records_per_batch, "messages"),
        Assumption("batching window", d.window_s, "s"),
        Assumption("readings per device and batch", t.readings_per_device_batch, "readings"),
        Assumption("DynamoDB write units per reading (from the measured per-batch figures)", t.wcu_per_reading(d),
                   "WCU"),
        Assumption("DynamoDB read units per device and batch (from the measured figures)", t.rcu_per_device_batch(d),
                   "RCU"),
    ]
    if d.spec.buffer == "sqs":
        rows.append(Assumption("SQS pollers: idle 20 s long polls, and one batch each per window", t.sqs_pollers,
                               "pollers"))
    if d.scheduled_archive:
        rows.append(Assumption("archive interval (scheduled: hour markers, one object per run)",
                               d.archive_interval_min, "minutes"))
    else:
        rows.append(Assumption("archive objects per batch", 1, "objects"))
    rows.append(Assumption("share of hours with an event-only metric", d.event_metric_hours_fraction, "fraction"))
    return rows


def estimate(d: Deployment, prices: dict[str, Any] | None = None) -> list[CostLine]:
    p = prices or load_prices()
    t = traffic(d, p)
    return [
        *_iot_lines(d, t, p),
        *(_kinesis_lines(d, t, p) if d.spec.buffer == "kinesis" else _sqs_lines(d, t, p)),
        *_processor_lines(d, t, p),
        *_archive_lines(d, t, p),
        *_cloudwatch_lines(d, t, p),
        *_kms_lines(d, p),
        *_read_api_lines(d, p),
        *_alert_lines(d, p),
    ]


M = 1e6


def _iot_lines(d: Deployment, t: Traffic, p: dict[str, Any]) -> list[CostLine]:
    units = t.messages * math.ceil(t.message_bytes / p["iot_message_unit_bytes"])
    minutes = d.apartments * SECONDS_PER_MONTH / 60
    action = "Kinesis" if d.spec.buffer == "kinesis" else "SQS"
    messaging = (
        CostLine("IoT Core", "messages: Basic Ingest, no messaging charge", units, "messages", 0.0)
        if d.basic_ingest
        else CostLine("IoT Core", "messages (5 KB units)", units, "messages", units / M * p["iot_per_million_messages"])
    )
    return [
        messaging,
        CostLine("IoT Core", "connection minutes", minutes, "minutes",
                 minutes / M * p["iot_per_million_connection_minutes"]),
        CostLine("IoT Core", f"rule triggers + {action} actions", t.messages * 2, "events",
                 t.messages / M * (p["iot_rules_per_million_triggered"] + p["iot_rules_per_million_actions"])),
    ]


def _kinesis_lines(d: Deployment, t: Traffic, p: dict[str, Any]) -> list[CostLine]:
    put_units = t.messages * math.ceil(t.message_bytes / p["kinesis_put_unit_bytes"])
    hours = d.shards * HOURS_PER_MONTH
    return [
        CostLine("Kinesis", f"{d.shards} provisioned shard(s)", hours, "shard-hours",
                 hours * p["kinesis_per_shard_hour"]),
        CostLine("Kinesis", "PUT payload units (25 KB)", put_units, "units",
                 put_units / M * p["kinesis_per_million_put_units"]),
    ]


def _sqs_lines(d: Deployment, t: Traffic, p: dict[str, Any]) -> list[CostLine]:
    """The IoT rule's SendMessage, the event source mapping's ReceiveMessage (long polls that cost even when
    the queue is empty) and its DeleteMessageBatch after each successful batch; every 64 KB of payload is one
    request."""
    chunk = p["sqs_request_chunk_bytes"]
    price = p["sqs_per_million_requests"]
    sends = t.messages * math.ceil(t.message_bytes / chunk)
    idle_polls = t.sqs_pollers * SECONDS_PER_MONTH / p["sqs_long_poll_wait_seconds"]
    # A quiet queue ends one long poll per message; a busy poller takes up to 10 messages per receive.
    per_receive = min(p["sqs_max_messages_per_receive"], max(1.0, t.messages_per_s / t.sqs_pollers))
    receives = idle_polls + t.messages * math.ceil(per_receive * t.message_bytes / chunk) / per_receive
    deletes = t.invocations * math.ceil(t.records_per_batch / p["sqs_max_entries_per_delete_batch"])
    return [
        CostLine("SQS", "SendMessage (IoT rule action)", sends, "requests", sends / M * price, "sqs_requests"),
        CostLine("SQS", f"ReceiveMessage: {t.sqs_pollers} pollers' idle long polls", idle_polls, "requests",
                 idle_polls / M * price, "sqs_requests"),
        CostLine("SQS", "ReceiveMessage: receives that return messages", receives - idle_polls, "requests",
                 (receives - idle_polls) / M * price, "sqs_requests"),
        CostLine("SQS", "DeleteMessageBatch (one per 10 messages of a batch)", deletes, "requests",
                 deletes / M * price, "sqs_requests"),
    ]


def _processor_lines(d: Deployment, t: Traffic, p: dict[str, Any]) -> list[CostLine]:
    gb_seconds = t.invocations * d.lambda_ms_per_invocation / 1000 * d.lambda_memory_mb / 1024
    wcu = t.readings * t.wcu_per_reading(d)
    # SQS hands a device to concurrent invocations: each device-batch takes and drops a lease item
    # (adapters/aws/device_lease.py), one write unit each.
    lease_wcu = 2.0 * t.invocations * t.devices_per_batch if d.spec.buffer == "sqs" else 0.0
    rcu = t.invocations * t.devices_per_batch * t.rcu_per_device_batch(d)
    table_gb = d.apartments * (SECONDS_PER_MONTH / 60) * d.dynamodb_bytes_per_device_minute / 1e9
    return [
        CostLine("Lambda", "requests (one per batch)", t.invocations, "requests",
                 t.invocations / M * p["lambda_per_million_requests"], "lambda_requests"),
        CostLine("Lambda", f"duration arm64 {d.lambda_memory_mb} MB", gb_seconds, "GB-s",
                 gb_seconds * p["lambda_per_gb_second_arm64"], "lambda_gb_seconds"),
        CostLine("DynamoDB", "write units", wcu, "WCU", wcu / M * p["dynamodb_per_million_write_units"]),
        *([CostLine("DynamoDB", "device leases (take + drop per device-batch)", lease_wcu, "WCU",
                    lease_wcu / M * p["dynamodb_per_million_write_units"])] if lease_wcu else []),
        CostLine("DynamoDB", "read units", rcu, "RCU", rcu / M * p["dynamodb_per_million_read_units"]),
        CostLine("DynamoDB", "storage (first month)", table_gb, "GB", table_gb * p["dynamodb_per_gb_month"],
                 "dynamodb_storage_gb"),
    ]


def _archive_lines(d: Deployment, t: Traffic, p: dict[str, Any]) -> list[CostLine]:
    archive_gb = t.readings * d.archive_bytes_per_reading / 1e9
    storage = CostLine("S3", "archive storage (first month)", archive_gb, "GB",
                       archive_gb * p["s3_standard_per_gb_month"])
    if not d.scheduled_archive:
        return [CostLine("S3", "archive PUTs (one per batch and date)", t.invocations, "PUTs",
                         t.invocations / 1000 * p["s3_per_thousand_puts"]), storage]
    runs = SECONDS_PER_MONTH / (d.archive_interval_min * 60)
    # A run puts an object only when an hour has closed since the last one: runs more often than hourly wait.
    puts = min(runs, HOURS_PER_MONTH)
    gb_seconds = runs * (d.archive_ms_per_run + d.apartments * d.archive_ms_per_apartment) / 1000 * 256 / 1024
    device_hours = d.apartments * HOURS_PER_MONTH
    marker_wcu = device_hours * (d.archive_marker_wcu_per_device_hour + 1)  # the writes, then one delete
    rcu = device_hours * d.archive_rcu_per_device_hour
    return [
        CostLine("S3", f"archive PUTs (one per run with a closed hour, every {d.archive_interval_min:g} min)", puts,
                 "PUTs", puts / 1000 * p["s3_per_thousand_puts"]),
        storage,
        CostLine("DynamoDB", "archive: hour markers (writes + delete)", marker_wcu, "WCU",
                 marker_wcu / M * p["dynamodb_per_million_write_units"]),
        CostLine("DynamoDB", "archive: read units (the hour's minute items, strongly consistent)", rcu, "RCU",
                 rcu / M * p["dynamodb_per_million_read_units"]),
        CostLine("Lambda", "archive: scheduled runs", runs, "requests",
                 runs / M * p["lambda_per_million_requests"], "lambda_requests"),
        CostLine("Lambda", "archive: duration arm64 256 MB", gb_seconds, "GB-s",
                 gb_seconds * p["lambda_per_gb_second_arm64"], "lambda_gb_seconds"),
    ]


def _cloudwatch_lines(d: Deployment, t: Traffic, p: dict[str, Any]) -> list[CostLine]:
    spec = d.spec
    metric = p["cloudwatch_per_custom_metric_month"]
    steady, events = METRIC_SETS[d.metrics_mode] if d.metrics_mode else (spec.steady_metrics, spec.event_metrics)
    event_metrics = len(events) * d.event_metric_hours_fraction
    scheduled = d.alert_ticks_per_hour * HOURS_PER_MONTH
    if d.scheduled_archive:
        scheduled += SECONDS_PER_MONTH / (d.archive_interval_min * 60)
    log_gb = (t.invocations + scheduled) * d.log_bytes_per_invocation / 1e9
    return [
        CostLine("CloudWatch", f"alarms ({len(spec.alarms)} alarms, billed per metric)", spec.alarm_metrics,
                 "alarm metrics", spec.alarm_metrics * p["cloudwatch_per_alarm_metric_month"], "cw_alarm_metrics"),
        CostLine("CloudWatch", f"custom metrics, every hour ({', '.join(steady) or 'none'})",
                 len(steady), "metrics", len(steady) * metric, "cw_metrics"),
        CostLine("CloudWatch", f"custom metrics, only in hours with events ({len(events)})",
                 event_metrics, "metric-months", event_metrics * metric, "cw_metrics"),
        CostLine("CloudWatch", "logs ingested", log_gb, "GB", log_gb * p["cloudwatch_logs_per_gb"], "cw_logs_gb"),
    ]


def _kms_lines(d: Deployment, p: dict[str, Any]) -> list[CostLine]:
    """The customer-managed key and the data-key requests it draws (AWS-managed keys: neither)."""
    if not d.spec.customer_managed_key:
        return []
    requests = d.kms_callers * SECONDS_PER_MONTH / p["kms_data_key_reuse_seconds"]
    return [
        CostLine("KMS", "customer-managed key", 1, "keys", p["kms_per_key_month"]),
        CostLine("KMS", f"data-key requests ({d.kms_callers} callers, one per 5 min)", requests, "requests",
                 requests / 10_000 * p["kms_per_10k_requests"], "kms_requests"),
    ]


def _alert_lines(d: Deployment, p: dict[str, Any]) -> list[CostLine]:
    """The scheduled alert function: its invocations, duration and reads (EventBridge schedules cost nothing)."""
    if d.alert_ticks_per_hour <= 0:
        return []
    ticks = d.alert_ticks_per_hour * HOURS_PER_MONTH
    gb_seconds = ticks * (d.alert_ms_per_tick + d.apartments * d.alert_ms_per_apartment) / 1000 * (
        d.alert_memory_mb / 1024)
    reads = ticks * d.apartments * d.alert_rcu_per_apartment_tick
    return [
        CostLine("Lambda", f"alerts: scheduled ticks ({d.alert_ticks_per_hour:g}/h)", ticks, "requests",
                 ticks / M * p["lambda_per_million_requests"], "lambda_requests"),
        CostLine("Lambda", f"alerts: duration arm64 {d.alert_memory_mb} MB", gb_seconds, "GB-s",
                 gb_seconds * p["lambda_per_gb_second_arm64"], "lambda_gb_seconds"),
        CostLine("DynamoDB", "alerts: read units", reads, "RCU", reads / M * p["dynamodb_per_million_read_units"]),
    ]


def _read_api_lines(d: Deployment, p: dict[str, Any]) -> list[CostLine]:
    """The hosted dashboard: API Gateway HTTP API requests, the read Lambda and its DynamoDB reads."""
    if d.dashboard_visits_per_day <= 0:
        return []
    days = SECONDS_PER_MONTH / 86_400
    requests = d.apartments * d.dashboard_visits_per_day * d.requests_per_visit * days
    metered = requests + d.apartments * d.plotly_loads_per_day * days * 10  # 512 KB metering of plotly.min.js
    gb_seconds = requests * d.read_api_ms_per_request / 1000 * d.read_api_memory_mb / 1024
    return [
        CostLine("API Gateway", f"read API: HTTP API requests ({d.dashboard_visits_per_day:g} visits/day)", metered,
                 "requests", metered / M * p["apigateway_http_per_million_requests"]),
        CostLine("Lambda", "read API: requests", requests, "requests", requests / M * p["lambda_per_million_requests"],
                 "lambda_requests"),
        CostLine("Lambda", f"read API: duration arm64 {d.read_api_memory_mb} MB", gb_seconds, "GB-s",
                 gb_seconds * p["lambda_per_gb_second_arm64"], "lambda_gb_seconds"),
        CostLine("DynamoDB", "read API: read units", requests * d.read_api_rcu_per_request, "RCU",
                 requests * d.read_api_rcu_per_request / M * p["dynamodb_per_million_read_units"]),
    ]


def free_tier_credits(lines: list[CostLine], prices: dict[str, Any] | None = None) -> list[CostLine]:
    """AWS's always-free monthly allowances (not the 12-month trial) set against the lines they cover.

    They are per account: they apply only to an account that runs nothing else on these meters.
    """
    p = prices or load_prices()
    credits = []
    for meter, allowance in p["free_tier_always"].items():
        if meter.startswith("_"):
            continue
        metered = [line for line in lines if line.meter == meter]
        quantity = sum(line.quantity for line in metered)
        usd = sum(line.monthly_usd for line in metered)
        if quantity <= 0:
            continue
        covered = min(quantity, float(allowance))
        credits.append(CostLine(metered[0].service, f"always-free tier: {meter.replace('_', ' ')}", -covered,
                                metered[0].unit, -usd * covered / quantity))
    return credits
