"""Bytes per reading on disk, before and after retention: one simulated apartment at 1 Hz for DAYS days through
the real processor (batches of 100 records × 10 samples, as the local runtime), then `maintain` with every
reading past the retention (the horizon at the end of the run), so what remains is what data older than the
retention costs: the rollups in the store plus the compacted archive.

    PYTHONPATH=src python -m benchmarks.storage [days]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import orjson

from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.maintenance import maintain
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.store import SqliteStore
from energymon.domain.reading import encode_message
from energymon.domain.simulation import Apartment
from energymon.ports import StreamRecord
from energymon.processing import Processor, ZoneResolver

DAY_MS = 86_400_000


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def main(days: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="energymon-storage-"))
    store = SqliteStore(root / "store.db")
    archive = FolderArchive(root / "archive")
    processor = Processor(store, archive, SqliteDeadLetters(root / "dl.db"), PrometheusMetrics(),
                          ZoneResolver("Europe/Berlin"))
    now = int(time.time() * 1000)
    start = now - now % DAY_MS - days * DAY_MS
    readings = list(Apartment("apt-1", 42, "Europe/Berlin").samples(start, days * 86_400))
    seq = 0
    for first in range(0, len(readings), 1000):
        records = []
        for i in range(first, min(first + 1000, len(readings)), 10):
            chunk = readings[i:i + 10]
            seq += 1
            body = orjson.loads(encode_message("apt-1", seq, chunk))
            body["topic_device_id"] = "apt-1"
            records.append(StreamRecord("shardId-000000000000", f"{seq:020d}", "apt-1", orjson.dumps(body),
                                        chunk[-1].ts_ms / 1000 + 1))
        processor.handle(kinesis_event(records, "arn:aws:kinesis:local:0:stream/s"))
    store.db.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n = len(readings)
    before_store, before_archive = _size(root / "store.db"), _size(root / "archive")
    files_before = sum(1 for p in (root / "archive").rglob("*") if p.is_file())
    # every reading older than the retention: a horizon at the end of the run (the clock moved on)
    report = maintain(store, archive, 1.0, clock=lambda: (start + (days + 1) * DAY_MS) / 1000 + 86_400)
    after_store, after_archive = _size(root / "store.db"), _size(root / "archive")
    files_after = sum(1 for p in (root / "archive").rglob("*") if p.is_file())
    print(f"{n} readings, one device at 1 Hz for {days} days")
    print(f"before: store {before_store / n:.1f} B/reading, archive {before_archive / n:.1f} B/reading "
          f"({files_before} files), total {(before_store + before_archive) / n:.1f} B/reading")
    print(f"after retention + compaction: store {after_store / n:.2f} B/reading, archive {after_archive / n:.2f} "
          f"B/reading ({files_after} files), total {(after_store + after_archive) / n:.2f} B/reading")
    print(f"purged {report.purged_readings}, kept {report.kept_readings} raw readings")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
