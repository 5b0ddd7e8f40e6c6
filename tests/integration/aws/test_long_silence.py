"""GIVEN a meter silent for days, WHEN it comes back, THEN the DynamoDB store closes hundreds of hours at once
(more than one transaction holds) and every day still gets its share — and a replay changes nothing."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from energymon.adapters.aws.dynamodb_store import DynamoDBStore
from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.domain.reading import Reading, encode_message, parse_ts
from energymon.ports import StreamRecord
from energymon.processing import Processor, ZoneResolver

pytestmark = pytest.mark.integration

DEVICE = "apt-9"
T0 = parse_ts("2026-06-01T00:00:00Z")
HOUR = 3_600_000


def _event(readings: list[Reading], seq: int) -> dict[str, Any]:
    body = orjson.loads(encode_message(DEVICE, seq, readings))
    body["topic_device_id"] = DEVICE
    arrival_s = max(r.ts_ms for r in readings) / 1000 + 1  # just after its newest sample
    record = StreamRecord("shardId-000000000000", str(seq), DEVICE, orjson.dumps(body), arrival_s)
    return kinesis_event([record], "arn:aws:kinesis:us-east-1:123456789012:stream/s")


def test_ten_days_of_silence_close_240_hours_in_chunks_and_replays_are_harmless(
    client: Any, new_table: Any, tmp_path: Any
) -> None:
    store = DynamoDBStore(new_table(), client=client("dynamodb"))
    processor = Processor(store, FolderArchive(tmp_path / "a"), SqliteDeadLetters(tmp_path / "dl.db"),
                          PrometheusMetrics(), ZoneResolver("UTC"), clock=lambda: T0 / 1000 + 30 * 86400)
    before = [Reading(DEVICE, T0 + i * 60_000, 500.0, 1000.0 + i * 500 / 60) for i in range(61)]
    after = Reading(DEVICE, T0 + HOUR + 240 * HOUR, 500.0, before[-1].energy_wh + 120_000)  # type: ignore[operator]
    assert processor.handle(_event(before, 1)) == {"batchItemFailures": []}
    assert processor.handle(_event([after], 2)) == {"batchItemFailures": []}

    days = {p.start: p for p in store.periods(DEVICE, "day", T0, T0 + 12 * 24 * HOUR, "UTC")}
    # 120 kWh over 240 h of silence = 0.5 kWh per hour: whole silent days hold 12 kWh, flagged as gaps
    assert round(days["2026-06-03"].import_kwh, 3) == 12.0
    assert days["2026-06-03"].gap_minutes == 1440
    total = sum(p.import_kwh for p in days.values())
    assert round(total, 3) == round(0.5 + 120.0, 3)
    summary = {d.device_id: d for d in store.devices()}[DEVICE]
    assert summary.readings == 62

    # Replaying both batches changes nothing
    processor.handle(_event(before, 1))
    processor.handle(_event([after], 2))
    again = {p.start: p for p in store.periods(DEVICE, "day", T0, T0 + 12 * 24 * HOUR, "UTC")}
    assert again == days
    assert {d.device_id: d for d in store.devices()}[DEVICE].readings == 62
