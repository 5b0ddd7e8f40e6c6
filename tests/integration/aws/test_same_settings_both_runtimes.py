"""Invariant 7, "same settings, same numbers": both composition roots built from equivalent settings.

The local root (LocalAdapters) from a TOML file; the Lambda's ``build`` from the JSON document in a moto S3
bucket (written as Terraform renders it, nulls for unset attributes) and its environment, over a DynamoDB table
on the moto server. Two devices differ in zone, tariff and max_power_w; the same Kinesis events go through each
root's processor, and the stored minutes, days and costs must be identical — and show the per-device settings.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import orjson
import pytest

from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.config import load_settings
from energymon.domain.reading import format_ts
from energymon.ports import StreamRecord
from energymon.processing.compose import build_query_service
from energymon.runtimes import lambda_handler
from energymon.runtimes.local import LocalAdapters

pytestmark = pytest.mark.integration

STEP_MS = 600_000  # one reading every 10 minutes
WH_PER_STEP = 50.0  # 300 W
SPIKE_WH = 1_000.0  # 6 kW over one step: plausible under the default 50 kW, a spike under apt-2's 3 kW
# Start of yesterday UTC, minus 6 h: 28 hours of readings cross a local midnight in Berlin and in New York.
T0 = (int(time.time()) // 86_400 - 1) * 86_400_000 - 6 * 3_600_000
STEPS = 28 * 6

TOML = """
timezone = "UTC"
max_power_w = 50000

[tariff]
currency = "EUR"
[[tariff.periods]]
from = 2026-01-01
price_per_kwh = "0.10"

[device_timezones]
apt-2 = "America/New_York"

[devices."apt-1"]
timezone = "Europe/Berlin"
label = "Flat 1 (north)"
max_power_w = 20000
[devices."apt-1".tariff]
currency = "EUR"
[[devices."apt-1".tariff.periods]]
from = 2026-01-01
standing_charge_per_day = "0.45"
price_per_kwh = "0.30"
[[devices."apt-1".tariff.periods.windows]]
days = "all"
start = "22:00"
end = "06:00"
price_per_kwh = "0.20"

[devices."apt-2"]
max_power_w = 3000
[devices."apt-2".tariff]
currency = "USD"
[[devices."apt-2".tariff.periods]]
from = 2026-01-01
standing_charge_per_day = "0.25"
price_per_kwh = "0.17"
"""


def _period(price: str, standing: str | None = None, windows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"from": "2026-01-01", "to": None, "price_per_kwh": price, "standing_charge_per_day": standing,
            "windows": windows}


# What infra/terraform/settings.tf renders for the same settings (unset optional attributes are null).
DOCUMENT = {
    "timezone": "UTC",
    "tariff": {"currency": "EUR", "name": None, "periods": [_period("0.10")]},
    "max_power_w": 50000, "max_gap_s": 300, "jitter_wh": 1,
    "devices": {
        "apt-1": {"timezone": "Europe/Berlin", "label": "Flat 1 (north)", "max_power_w": 20000,
                  "tariff": {"currency": "EUR", "name": None, "periods": [_period("0.30", "0.45", [
                      {"days": "all", "start": "22:00", "end": "06:00", "price_per_kwh": "0.20", "name": None}])]}},
        "apt-2": {"timezone": "America/New_York", "max_power_w": 3000,
                  "tariff": {"currency": "USD", "name": None, "periods": [_period("0.17", "0.25")]}},
    },
}


def events() -> list[dict[str, Any]]:
    """Both devices' counters as the bridge stamps them, 10 samples a record, 5 records a batch."""
    records = []
    seq = 0
    for device in ("apt-1", "apt-2"):
        counter = 1_000_000.0
        for first in range(0, STEPS, 10):
            samples = []
            for i in range(first, min(first + 10, STEPS)):
                counter += SPIKE_WH if i == STEPS // 2 else WH_PER_STEP
                samples.append({"ts": format_ts(T0 + i * STEP_MS), "power_w": 300.0, "energy_wh": counter})
            body = {"v": 1, "device_id": device, "seq": first, "samples": samples, "topic_device_id": device}
            seq += 1
            records.append(StreamRecord("shardId-000000000000", f"{seq:021d}", device, orjson.dumps(body),
                                        time.time()))
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/energymon-telemetry"
    return [kinesis_event(records[i:i + 5], arn) for i in range(0, len(records), 5)]


def feed(processor: Any) -> None:
    for event in events():
        assert processor.handle(event) == {"batchItemFailures": []}


def snapshot(shared: Any, store: Any) -> dict[str, Any]:
    """What a user reads, per device: stored minutes and local days, and each day's cost."""
    service = build_query_service(shared, store)
    lo, hi = T0 - 86_400_000, T0 + (STEPS + 6 * 24) * STEP_MS
    out = {}
    for device in ("apt-1", "apt-2"):
        tz = service.zones(device)
        out[device] = {
            "zone": tz,
            "minutes": [(p.start_ms, p.import_kwh, p.samples) for p in store.periods(device, "minute", lo, hi, tz)],
            "days": [(p.start, p.import_kwh, p.samples, p.gap_minutes) for p in store.periods(device, "day", lo, hi, tz)],
            "costs": [(r.period, r.start_ms, r.cost, r.currency) for r in service.consumption(device, "day", lo, hi)],
        }
    return out


@pytest.fixture
def local_numbers(tmp_path: Path) -> dict[str, Any]:
    config = tmp_path / "energymon.toml"
    config.write_text(TOML)
    adapters = LocalAdapters(load_settings(config, data_dir=tmp_path / "data"))
    feed(adapters.processor)
    return snapshot(adapters.shared, adapters.store)


@pytest.fixture
def lambda_numbers(client: Any, session: Any, table: str, bucket: str, topic: str) -> dict[str, Any]:
    body = orjson.dumps(DOCUMENT)
    client("s3").put_object(Bucket=bucket, Key="config/settings.json", Body=body)
    env = {"ENERGYMON_TABLE_NAME": table, "ENERGYMON_ARCHIVE_BUCKET": bucket, "ENERGYMON_ALERT_TOPIC_ARN": topic,
           "ENERGYMON_SETTINGS_KEY": "config/settings.json",
           "ENERGYMON_SETTINGS_SHA256": hashlib.sha256(body).hexdigest(),
           "POWERTOOLS_SERVICE_NAME": "energymon", "POWERTOOLS_METRICS_NAMESPACE": "energymon",
           "POWERTOOLS_LOG_LEVEL": "INFO"}
    # A session of its own, closed afterwards: pooled keep-alive connections would hold the moto server's
    # request threads open past the end of the session.
    own = boto3.session.Session(region_name=session.region_name)
    adapters = lambda_handler.build(env, session=own)
    try:
        feed(adapters.processor)
        return snapshot(adapters.shared, adapters.store)
    finally:
        for boto_client in (adapters.store.client, adapters.archive.client, adapters.notifier.client):
            boto_client.close()


def test_given_equivalent_settings_then_both_roots_store_and_cost_the_same(
    local_numbers: dict[str, Any], lambda_numbers: dict[str, Any]
) -> None:
    # THEN every stored minute, local day and cost is the same on both runtimes
    for device in ("apt-1", "apt-2"):
        assert lambda_numbers[device] == local_numbers[device], device


def test_given_per_device_settings_then_each_device_is_computed_with_its_own(
    lambda_numbers: dict[str, Any],
) -> None:
    # THEN the numbers really carry the per-device settings (so equality above is not two roots ignoring them):
    apt1, apt2 = lambda_numbers["apt-1"], lambda_numbers["apt-2"]
    assert (apt1["zone"], apt2["zone"]) == ("Europe/Berlin", "America/New_York")
    # - days are cut at each device's local midnight (Berlin is UTC+1/+2, New York UTC-5/-4), not in UTC
    for numbers in (apt1, apt2):
        starts = [datetime.fromtimestamp(c[1] / 1000, ZoneInfo(numbers["zone"])) for c in numbers["costs"]]
        assert len(starts) >= 2 and all((s.hour, s.minute) == (0, 0) for s in starts), starts
    # - the 6 kW step counts for apt-1 (20 kW limit) and is a spike for apt-2 (3 kW limit)
    steps = STEPS - 1
    total1 = sum(d[1] for d in apt1["days"])
    total2 = sum(d[1] for d in apt2["days"])
    assert total1 == pytest.approx(((steps - 1) * WH_PER_STEP + SPIKE_WH) / 1000)
    assert total2 == pytest.approx((steps - 1) * WH_PER_STEP / 1000)
    # - each device is costed with its own tariff, in its own currency
    assert {c[3] for c in apt1["costs"]} == {"EUR"} and {c[3] for c in apt2["costs"]} == {"USD"}
    assert all(c[2] is not None and c[2] > 0 for c in apt1["costs"] + apt2["costs"])
