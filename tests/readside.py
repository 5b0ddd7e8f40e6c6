"""The same readings through the Lambda handler into DynamoDB and through a local processor into SQLite.

What the read-side tests compare: everything a user reads from the AWS runtime must equal what the local
runtime gives for the same readings.
"""

from __future__ import annotations

import base64
import math
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from energymon.adapters.mqtt.bridge import canonical_to_record
from energymon.domain.reading import Reading, encode_message, telemetry_topic

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

DEVICES = ("apt-1", "apt-2")
ZONE = "Asia/Kolkata"  # a half-hour zone: local days and hours differ from UTC ones
STEP_S = 30
HOURS = 30
PER_MESSAGE = 10
BATCH = 100

TARIFF_TOML = """
[tariff]
currency = "EUR"
[[tariff.periods]]
from = 2026-01-01
standing_charge_per_day = "0.45"
price_per_kwh = "0.30"
[[tariff.periods.windows]]
days = "all"
start = "22:00"
end = "06:00"
price_per_kwh = "0.20"
"""


def t0() -> datetime:
    """Start of yesterday UTC minus 6 h: recent (readings older than 35 days are refused), over a local midnight."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1, hours=6)


def readings(device: str, start: datetime) -> list[Reading]:
    out = []
    energy = 1_000_000.0 + 1000 * DEVICES.index(device)
    base_ms = int(start.timestamp() * 1000)
    for i in range(HOURS * 3600 // STEP_S):
        power = 400 + 300 * math.sin(i / 40) + 50 * DEVICES.index(device)
        energy += power * STEP_S / 3600
        out.append(Reading(device, base_ms + i * STEP_S * 1000, power_w=round(power, 1), energy_wh=round(energy, 3)))
    return out


def events(start: datetime) -> list[dict[str, Any]]:
    """Kinesis-shaped events (what the event source mapping hands the Lambda), 100 records each."""
    records = []
    seq = 0
    for device in DEVICES:
        rs = readings(device, start)
        for n, i in enumerate(range(0, len(rs), PER_MESSAGE)):
            key, data = canonical_to_record(telemetry_topic(device), encode_message(device, n, rs[i:i + PER_MESSAGE]))
            seq += 1
            records.append({"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": key,
                                        "sequenceNumber": f"{seq:056d}", "data": base64.b64encode(data).decode(),
                                        "approximateArrivalTimestamp": time.time()},
                            "eventSource": "aws:kinesis", "eventVersion": "1.0",
                            "eventID": f"shardId-000000000000:{seq:056d}", "eventName": "aws:kinesis:record",
                            "awsRegion": "us-east-1", "eventSourceARN": "arn:aws:kinesis:us-east-1:1:stream/x"})
    return [{"Records": records[i:i + BATCH]} for i in range(0, len(records), BATCH)]


def feed(handle: Callable[[dict[str, Any], Any], dict[str, Any]], batches: list[dict[str, Any]]) -> None:
    for event in batches:
        assert handle(event, None) == {"batchItemFailures": []}


def publish_settings(s3: Any, bucket: str, local_config: Path) -> tuple[str, str]:
    """The local config's shared settings (zone + tariff) as the stack's settings document; (key, sha256)."""
    from energymon.adapters.aws.settings_object import publish_shared_settings
    from energymon.config import load_settings

    return publish_shared_settings(s3, bucket, load_settings(local_config).shared_settings())


def lambda_env(table: str, bucket: str, topic: str, settings: tuple[str, str]) -> dict[str, str]:
    key, sha = settings
    return {"ENERGYMON_TABLE_NAME": table, "ENERGYMON_ARCHIVE_BUCKET": bucket, "ENERGYMON_ALERT_TOPIC_ARN": topic,
            "ENERGYMON_SETTINGS_KEY": key, "ENERGYMON_SETTINGS_SHA256": sha, "POWERTOOLS_SERVICE_NAME": "energymon",
            "POWERTOOLS_METRICS_NAMESPACE": "energymon", "POWERTOOLS_LOG_LEVEL": "WARNING"}


def write_configs(tmp: Path) -> tuple[Path, Path]:
    """(local config: the device zone + tariff, AWS reader config: tariff only — the zone comes from the table)."""
    local = tmp / "local.toml"
    local.write_text(f'timezone = "{ZONE}"\n' + TARIFF_TOML)
    aws = tmp / "aws.toml"
    aws.write_text(TARIFF_TOML)
    return local, aws


def fill_local(data_dir: Path, config: Path, batches: list[dict[str, Any]]) -> None:
    from energymon.config import load_settings
    from energymon.runtimes.local import LocalAdapters

    adapters = LocalAdapters(load_settings(config, data_dir=data_dir))
    feed(adapters.processor.handle, batches)
