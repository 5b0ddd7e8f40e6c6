"""GIVEN a device in steady state on the DynamoDB store, WHEN a batch arrives, THEN the store reads it with one
GetItem and one Query (the open hour changes by the batch's minutes alone) and derives exactly what summing the
hour from its minute items derives — also after a crash between the minute and the device write, healed by the
redelivery or, without one, by the hour's close.

Counts of requests, never times: read units are what the fleet's bill is made of (BENCHMARKS.md, cost profiles).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from energymon.adapters.aws.dynamodb_store import DynamoDBStore
from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.domain.reading import Reading, encode_message, parse_ts
from energymon.domain.simulation import Apartment
from energymon.ports import StreamRecord
from energymon.processing import Processor, ZoneResolver

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

DEVICE = "apt-7"
ZONE = "Europe/Berlin"
T0 = parse_ts("2026-11-30T17:40:00Z")  # 20 minutes before a local hour closes
BATCH = 10


def _event(readings: list[Reading], seq: int) -> dict[str, Any]:
    body = orjson.loads(encode_message(DEVICE, seq, readings))
    body["topic_device_id"] = DEVICE
    arrival_s = max(r.ts_ms for r in readings) / 1000 + 1
    record = StreamRecord("shardId-000000000000", str(seq), DEVICE, orjson.dumps(body), arrival_s)
    return kinesis_event([record], "arn:aws:kinesis:us-east-1:123456789012:stream/s")


def _processor(store: DynamoDBStore, tmp: Path) -> Processor:
    tmp.mkdir(parents=True, exist_ok=True)
    return Processor(store, FolderArchive(tmp / "a"), SqliteDeadLetters(tmp / "dl.db"), PrometheusMetrics(),
                     ZoneResolver(ZONE), clock=lambda: T0 / 1000 + 7200)


class Calls:
    """DynamoDB requests made through one client, by operation."""

    def __init__(self, ddb: Any) -> None:
        self.counts: Counter[str] = Counter()
        ddb.meta.events.register("before-call.dynamodb", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.counts[model.name] += 1


def _crash_before_the_device_write(processor: Processor, batch: list[Reading], seq: int,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Deliver ``batch`` once with the function dying after its minute writes, before the device write."""

    def crash(*_: Any, **__: Any) -> None:
        raise RuntimeError("the function timed out between the minute and the device write")

    with monkeypatch.context() as patch:
        patch.setattr(DynamoDBStore, "_commit", crash)
        assert processor.handle(_event(batch, seq))["batchItemFailures"] == [{"itemIdentifier": str(seq)}]


def _batches(minutes: int) -> list[list[Reading]]:
    readings = list(Apartment(DEVICE, 7, ZONE).samples(T0, minutes * 60))
    return [readings[i : i + BATCH] for i in range(0, len(readings), BATCH)]


def _figures(store: DynamoDBStore) -> tuple[Any, ...]:
    end = T0 + 3 * 3_600_000
    return (store.periods(DEVICE, "minute", T0 - 60_000, end, ZONE), store.periods(DEVICE, "hour", T0 - 3_600_000, end, ZONE),
            store.periods(DEVICE, "day", T0, end, ZONE), store.devices())


@pytest.fixture
def reference(client: Any, new_table: Any, tmp_path: Path) -> tuple[Any, ...]:
    """Every batch delivered twice: the redelivery sums each hour from its minute items."""
    store = DynamoDBStore(new_table(), client=client("dynamodb"))
    processor = _processor(store, tmp_path / "ref")
    for seq, batch in enumerate(_batches(30), 1):
        for _ in range(2):
            assert processor.handle(_event(batch, seq)) == {"batchItemFailures": []}
    return _figures(store)


def test_a_steady_batch_is_one_getitem_and_one_query_and_derives_what_the_full_sums_derive(
    session: Any, moto_endpoint: str, new_table: Any, tmp_path: Path, reference: tuple[Any, ...]
) -> None:
    ddb = session.client("dynamodb", endpoint_url=moto_endpoint)
    store = DynamoDBStore(new_table(), client=ddb)
    processor = _processor(store, tmp_path / "fast")
    calls = Calls(ddb)
    per_batch: list[Counter[str]] = []
    for seq, batch in enumerate(_batches(30), 1):
        calls.counts.clear()
        assert processor.handle(_event(batch, seq)) == {"batchItemFailures": []}
        per_batch.append(Counter({k: v for k, v in calls.counts.items() if k in ("Query", "GetItem")}))

    steady = per_batch[1:]  # the first batch meets an empty table
    typical = Counter(tuple(sorted(c.items())) for c in steady).most_common(1)[0][0]
    assert dict(typical) == {"GetItem": 1, "Query": 1}
    # Only the batches that open the next local hour (and close this one) read more.
    assert sum(1 for c in steady if c != Counter(dict(typical))) <= 2
    assert _figures(store) == reference


def test_a_crash_before_the_device_write_is_healed_by_the_redelivery(
    client: Any, new_table: Any, tmp_path: Path, reference: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DynamoDBStore(new_table(), client=client("dynamodb"))
    processor = _processor(store, tmp_path / "crash")
    batches = _batches(30)
    crash_at = 150  # in the hour still open at the end: only the redelivery can heal it
    for seq, batch in enumerate(batches, 1):
        if seq == crash_at:
            _crash_before_the_device_write(processor, batch, seq, monkeypatch)
        assert processor.handle(_event(batch, seq)) == {"batchItemFailures": []}
    assert _figures(store) == reference


def test_a_crash_never_redelivered_is_healed_when_its_hour_closes(
    client: Any, new_table: Any, tmp_path: Path, reference: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DynamoDBStore(new_table(), client=client("dynamodb"))
    processor = _processor(store, tmp_path / "lost")
    batches = _batches(30)
    crash_at = 40
    for seq, batch in enumerate(batches, 1):
        if seq == crash_at:
            _crash_before_the_device_write(processor, batch, seq, monkeypatch)
            continue  # its records went to the failure queue; the stream moves on
        assert processor.handle(_event(batch, seq)) == {"batchItemFailures": []}
    minutes, hours, days, devices = _figures(store)
    ref_minutes, ref_hours, ref_days, ref_devices = reference
    # The crashed batch's readings are in its minute items (the truth): once its hour has closed, the hour,
    # its day and every minute are what they would have been.
    closed = [h for h in ref_hours if h.start < hours[-1].start]
    assert closed and [h for h in hours if h.start < hours[-1].start] == closed
    assert minutes == ref_minutes
