"""Rebuild a store from the archive: every archived reading put back through the one handler.

Each file's readings go through ``Processor.handle`` in Kinesis-shaped batches, device by device, as if they
had arrived a minute after they were taken (a reading is judged as of its arrival, and every archived
reading was accepted once). Processing is idempotent and order-insensitive, so the rebuilt rollups equal the
original ones. A damaged file is reported by name (with its count of readings when known) and skipped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.domain.reading import encode_message
from energymon.ports import StreamRecord

if TYPE_CHECKING:
    from collections.abc import Callable

    from energymon.adapters.columnar import ArchiveProblem
    from energymon.adapters.local.archive import FolderArchive
    from energymon.domain.reading import Reading
    from energymon.processing import Processor

__all__ = ["ReplayReport", "replay_archive"]

_SAMPLES_PER_RECORD = 500  # about 50 KB: well inside a record's 128 KB
_RECORDS_PER_BATCH = 20
_SHARD = "shardId-replay"


@dataclass
class ReplayReport:
    files: int = 0
    readings: int = 0
    failed_records: int = 0
    skipped: list[ArchiveProblem] = field(default_factory=list)


def replay_archive(archive: FolderArchive, processor: Processor,
                   on_problem: Callable[[ArchiveProblem], None] | None = None) -> ReplayReport:
    report = ReplayReport()

    def problem(p: ArchiveProblem) -> None:
        report.skipped.append(p)
        if on_problem is not None:
            on_problem(p)

    seq = 0
    for readings in archive.read_all(problem):
        report.files += 1
        by_device: dict[str, list[Reading]] = defaultdict(list)
        for r in readings:
            by_device[r.device_id].append(r)
        for device, rows in sorted(by_device.items()):
            rows.sort(key=lambda r: r.ts_ms)
            records = []
            for start in range(0, len(rows), _SAMPLES_PER_RECORD):
                chunk = rows[start:start + _SAMPLES_PER_RECORD]
                seq += 1
                body = encode_message(device, seq, chunk)[:-1] + b',"topic_device_id":' + _quoted(device) + b"}"
                records.append(StreamRecord(_SHARD, f"{seq:020d}", device, body, chunk[-1].ts_ms / 1000 + 60))
            for start in range(0, len(records), _RECORDS_PER_BATCH):
                batch = records[start:start + _RECORDS_PER_BATCH]
                failures = processor.handle(kinesis_event(batch, "arn:aws:kinesis:local:0:stream/replay"))
                report.failed_records += len(failures["batchItemFailures"])
            report.readings += len(rows)
    return report


def _quoted(text: str) -> bytes:
    import orjson

    return orjson.dumps(text)
