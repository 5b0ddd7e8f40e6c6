"""A monthly cost model of the AWS design (IoT Core → Kinesis → Lambda → DynamoDB + S3, CloudWatch, KMS).

Every line is a quantity times a price from ``prices-*.json``; the quantities follow from how the pipeline
behaves (one MQTT message per publish interval, one Lambda invocation per batch, the DynamoDB write units
per reading measured by ``benchmarks/bench_dynamodb_wcu.py``, one archive object per batch).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from importlib import resources
from typing import Any

__all__ = ["CostLine", "Deployment", "estimate", "load_prices"]

SECONDS_PER_MONTH = 30 * 24 * 3600
DEFAULT_PRICES = "prices-us-east-1-2026-11.json"


def load_prices(name: str = DEFAULT_PRICES) -> dict[str, Any]:
    return dict(json.loads(resources.files("energymon.deploy.bill").joinpath(name).read_text()))


@dataclass(frozen=True)
class Deployment:
    """The knobs that move the bill; defaults are the Terraform defaults and the simulator's rates."""

    apartments: int = 1
    sample_hz: float = 1.0
    publish_interval_s: float = 10.0  # samples batched per MQTT message on the device
    bytes_per_sample: int = 75  # one canonical sample in JSON
    batch_size: int = 100
    batching_window_s: float = 10.0
    shards: int = 1
    lambda_memory_mb: int = 256
    lambda_ms_per_invocation: float = 150.0  # processing + DynamoDB/S3 round trips
    wcu_per_reading: float = 0.216  # measured: BENCHMARKS.md, DynamoDB write units
    rcu_per_device_batch: float = 2.0  # context reads: eventually consistent queries of minute items
    dynamodb_bytes_per_device_minute: int = 200
    archive_bytes_per_reading: float = 12.0  # gzip NDJSON
    alarms: int = 8
    custom_metrics: int = 6
    log_gb: float = 0.05
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
    alert_ticks_per_hour: float = 60.0  # rate(1 minute)
    alert_memory_mb: int = 256
    alert_ms_per_tick: float = 200.0
    alert_ms_per_apartment: float = 10.0
    alert_rcu_per_apartment_tick: float = 1.0

    def __post_init__(self) -> None:
        if self.apartments < 1:
            raise ValueError("apartments must be at least 1")
        if not 0 < self.sample_hz <= 10:
            raise ValueError("sample_hz must be in (0, 10]")
        if not 1 <= self.publish_interval_s <= 3600:
            raise ValueError("publish_interval_s must be 1–3600")


@dataclass(frozen=True)
class CostLine:
    service: str
    item: str
    quantity: float
    unit: str
    monthly_usd: float


def estimate(d: Deployment, prices: dict[str, Any] | None = None) -> list[CostLine]:
    p = prices or load_prices()
    month = SECONDS_PER_MONTH
    messages = d.apartments * month / d.publish_interval_s
    readings = d.apartments * month * d.sample_hz
    message_bytes = 60 + d.bytes_per_sample * d.sample_hz * d.publish_interval_s
    iot_units = messages * math.ceil(message_bytes / p["iot_message_unit_bytes"])
    put_units = messages * math.ceil(message_bytes / p["kinesis_put_unit_bytes"])
    records_per_s = d.apartments / d.publish_interval_s
    # Lambda hands over a batch when it is full or the window ends: per shard, whichever comes first.
    invocations_per_s = max(records_per_s / d.batch_size, d.shards / d.batching_window_s) if records_per_s else 0
    invocations = min(invocations_per_s, records_per_s) * month
    devices_per_batch = min(d.apartments, max(1.0, records_per_s / invocations_per_s))
    device_batches = invocations * devices_per_batch
    gb_seconds = invocations * d.lambda_ms_per_invocation / 1000 * d.lambda_memory_mb / 1024
    archive_gb = readings * d.archive_bytes_per_reading / 1e9
    table_gb = d.apartments * (month / 60) * d.dynamodb_bytes_per_device_minute / 1e9
    m = 1e6
    lines = [
        CostLine("IoT Core", "messages (5 KB units)", iot_units, "messages",
                 iot_units / m * p["iot_per_million_messages"]),
        CostLine("IoT Core", "connection minutes", d.apartments * month / 60, "minutes",
                 d.apartments * month / 60 / m * p["iot_per_million_connection_minutes"]),
        CostLine("IoT Core", "rule triggers + Kinesis actions", messages * 2, "events",
                 messages / m * (p["iot_rules_per_million_triggered"] + p["iot_rules_per_million_actions"])),
        CostLine("Kinesis", f"{d.shards} provisioned shard(s)", d.shards * month / 3600, "shard-hours",
                 d.shards * month / 3600 * p["kinesis_per_shard_hour"]),
        CostLine("Kinesis", "PUT payload units (25 KB)", put_units, "units",
                 put_units / m * p["kinesis_per_million_put_units"]),
        CostLine("Lambda", "requests (one per batch)", invocations, "requests",
                 invocations / m * p["lambda_per_million_requests"]),
        CostLine("Lambda", f"duration arm64 {d.lambda_memory_mb} MB", gb_seconds, "GB-s",
                 gb_seconds * p["lambda_per_gb_second_arm64"]),
        CostLine("DynamoDB", "write units", readings * d.wcu_per_reading, "WCU",
                 readings * d.wcu_per_reading / m * p["dynamodb_per_million_write_units"]),
        CostLine("DynamoDB", "read units", device_batches * d.rcu_per_device_batch, "RCU",
                 device_batches * d.rcu_per_device_batch / m * p["dynamodb_per_million_read_units"]),
        CostLine("DynamoDB", "storage (first month)", table_gb, "GB", table_gb * p["dynamodb_per_gb_month"]),
        CostLine("S3", "archive PUTs (one per batch and date)", invocations, "PUTs",
                 invocations / 1000 * p["s3_per_thousand_puts"]),
        CostLine("S3", "archive storage (first month)", archive_gb, "GB", archive_gb * p["s3_standard_per_gb_month"]),
        CostLine("CloudWatch", "alarms", d.alarms, "alarms", d.alarms * p["cloudwatch_per_alarm_month"]),
        CostLine("CloudWatch", "custom metrics (EMF)", d.custom_metrics, "metrics",
                 d.custom_metrics * p["cloudwatch_per_custom_metric_month"]),
        CostLine("CloudWatch", "logs", d.log_gb, "GB", d.log_gb * p["cloudwatch_logs_per_gb"]),
        CostLine("KMS", "customer-managed key", 1, "keys", p["kms_per_key_month"]),
        *_read_api_lines(d, p),
        *_alert_lines(d, p),
    ]
    return lines


def _alert_lines(d: Deployment, p: dict[str, Any]) -> list[CostLine]:
    """The scheduled alert function: its invocations, duration and reads (EventBridge schedules cost nothing)."""
    if d.alert_ticks_per_hour <= 0:
        return []
    m = 1e6
    ticks = d.alert_ticks_per_hour * SECONDS_PER_MONTH / 3600
    gb_seconds = ticks * (d.alert_ms_per_tick + d.apartments * d.alert_ms_per_apartment) / 1000 * (
        d.alert_memory_mb / 1024)
    reads = ticks * d.apartments * d.alert_rcu_per_apartment_tick
    return [
        CostLine("Lambda", f"alerts: scheduled ticks ({d.alert_ticks_per_hour:g}/h)", ticks, "requests",
                 ticks / m * p["lambda_per_million_requests"]),
        CostLine("Lambda", f"alerts: duration arm64 {d.alert_memory_mb} MB", gb_seconds, "GB-s",
                 gb_seconds * p["lambda_per_gb_second_arm64"]),
        CostLine("DynamoDB", "alerts: read units", reads, "RCU", reads / m * p["dynamodb_per_million_read_units"]),
    ]


def _read_api_lines(d: Deployment, p: dict[str, Any]) -> list[CostLine]:
    """The hosted dashboard: API Gateway HTTP API requests, the read Lambda and its DynamoDB reads."""
    if d.dashboard_visits_per_day <= 0:
        return []
    m = 1e6
    days = SECONDS_PER_MONTH / 86_400
    requests = d.apartments * d.dashboard_visits_per_day * d.requests_per_visit * days
    metered = requests + d.apartments * d.plotly_loads_per_day * days * 10  # 512 KB metering of plotly.min.js
    gb_seconds = requests * d.read_api_ms_per_request / 1000 * d.read_api_memory_mb / 1024
    return [
        CostLine("API Gateway", f"read API: HTTP API requests ({d.dashboard_visits_per_day:g} visits/day)", metered,
                 "requests", metered / m * p["apigateway_http_per_million_requests"]),
        CostLine("Lambda", "read API: requests", requests, "requests", requests / m * p["lambda_per_million_requests"]),
        CostLine("Lambda", f"read API: duration arm64 {d.read_api_memory_mb} MB", gb_seconds, "GB-s",
                 gb_seconds * p["lambda_per_gb_second_arm64"]),
        CostLine("DynamoDB", "read API: read units", requests * d.read_api_rcu_per_request, "RCU",
                 requests * d.read_api_rcu_per_request / m * p["dynamodb_per_million_read_units"]),
    ]
