"""A local data directory with weeks of history, written through the real processor (shared by the
maintenance, SQL, export and replay tests)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.store import SqliteStore
from energymon.domain.reading import Reading, encode_message
from energymon.ports import StreamRecord
from energymon.processing import Processor, ZoneResolver

if TYPE_CHECKING:
    from pathlib import Path

DAY = 86_400_000
MIN = 60_000
ZONE = "Europe/Berlin"


@dataclass
class History:
    root: Path
    store: SqliteStore
    readings: list[Reading]

    def rollups(self, device: str) -> dict[str, list[tuple[str, int, int]]]:
        return {res: [(p.start, round(p.import_kwh * 1e6), p.gap_minutes)
                      for p in self.store.periods(device, res, 0, 2**42, ZONE)]
                for res in ("minute", "hour", "day", "month")}


def meter(device: str, start_ms: int, count: int, step_ms: int, first_wh: float) -> list[Reading]:
    out, energy = [], first_wh
    for i in range(count):
        ts = start_ms + i * step_ms
        watts = 80.0 + (i % 7) * 10
        energy += watts * step_ms / 3_600_000
        out.append(Reading(device, ts, watts, round(energy, 3), None, 230.0 + i % 3, round(watts / 230, 3)))
    return out


def processor(root: Path) -> tuple[Processor, SqliteStore]:
    store = SqliteStore(root / "store.db")
    return Processor(store, FolderArchive(root / "archive"), SqliteDeadLetters(root / "deadletters.db"),
                     PrometheusMetrics(), ZoneResolver(ZONE)), store


def deliver(proc: Processor, readings: list[Reading], per_batch: int = 60) -> None:
    """Batches of ``per_batch`` readings of one device, each arriving a minute after its newest reading."""
    for seq, start in enumerate(range(0, len(readings), per_batch), start=1):
        chunk = readings[start:start + per_batch]
        device = chunk[0].device_id
        body = orjson.loads(encode_message(device, seq, chunk))
        body["topic_device_id"] = device
        # sequence numbers unique in the shard, as Kinesis makes them (the archive names batches by them)
        record = StreamRecord("shardId-000000000000", f"{chunk[0].ts_ms}{device}", device, orjson.dumps(body),
                              (chunk[-1].ts_ms + MIN) / 1000)
        assert proc.handle(kinesis_event([record], "arn:aws:kinesis:local:0:stream/s")) == {"batchItemFailures": []}


def history(root: Path) -> History:
    """Two meters: three days read every 5 minutes a hundred days ago (past the default retention), and the last two days."""
    now = int(time.time() * 1000)
    today = now - now % DAY
    readings: list[Reading] = []
    proc, store = processor(root)
    for n, device in enumerate(("apt-1", "apt-2")):
        old = meter(device, today - 100 * DAY, 3 * 288, 5 * MIN, 1000.0 * (n + 1))
        new = meter(device, today - 2 * DAY, 2 * 288, 5 * MIN, (old[-1].energy_wh or 0) + 5000)
        deliver(proc, old)
        deliver(proc, new)
        readings += old + new
    # closed now rather than whenever the collector gets to it: closing folds the WAL into the file, and a
    # test comparing the directory's bytes before and after a command must not see that happen in between
    dead_letters = proc.dead_letters
    assert isinstance(dead_letters, SqliteDeadLetters)
    dead_letters.db.close()
    return History(root, store, readings)
