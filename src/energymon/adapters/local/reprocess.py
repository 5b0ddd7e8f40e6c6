"""Put records the poller gave up on back through the one handler, once their cause is fixed.

Each given-up letter holds its stream record whole (data, partition key, shard and sequence number), so
the batches are rebuilt as the event source mapping built them and handed to the same ``handle``: the
store ignores readings it already holds and the archive rewrites the same batch object, so reprocessing
twice, or reprocessing records that had partly reached the store, changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.ports import StreamRecord

if TYPE_CHECKING:
    from collections.abc import Callable

    from energymon.ports import DeadLetters, StoredLetter

__all__ = ["ReprocessReport", "reprocess_given_up"]


@dataclass
class ReprocessReport:
    batches: int = 0
    records: int = 0
    stored: int = 0  # records the handler took (stored, or rejected with a reason this time)
    failed: int = 0  # records the handler reported failed again: still in the dead-letter store
    errors: list[str] = field(default_factory=list)


def _record(stored: StoredLetter) -> StreamRecord:
    letter = stored.letter
    shard, _, sequence = letter.source.rpartition(":")
    info = letter.detail.get("KinesisBatchInfo") or {}
    arrival = letter.detail.get("approximateArrivalTimestamp")
    return StreamRecord(shard or str(info.get("shardId", "shard")), sequence or stored.id,
                        str(letter.detail.get("partitionKey", "")), letter.payload,
                        float(arrival) if isinstance(arrival, int | float) else letter.at_s)


def _batches(letters: list[StoredLetter]) -> list[list[StoredLetter]]:
    """Consecutive letters of the same given-up batch (its ``KinesisBatchInfo``), in the order they came."""
    out: list[list[StoredLetter]] = []
    key: tuple[Any, ...] | None = None
    for stored in letters:
        info = stored.letter.detail.get("KinesisBatchInfo") or {}
        this = (info.get("shardId"), info.get("startSequenceNumber"), info.get("endSequenceNumber"))
        if not out or this != key:
            out.append([])
            key = this
        out[-1].append(stored)
    return out


def reprocess_given_up(
    dead_letters: DeadLetters,
    handler: Callable[[dict[str, Any], Any], dict[str, Any] | None],
    stream_arn: str = "arn:aws:kinesis:local:000000000000:stream/energymon",
    limit: int = 10_000,
) -> ReprocessReport:
    report = ReprocessReport()
    for batch in _batches(dead_letters.given_up(limit)):
        records = [_record(stored) for stored in batch]
        report.batches += 1
        report.records += len(records)
        try:
            response = handler(kinesis_event(records, stream_arn), None) or {}
        except Exception as exc:  # noqa: BLE001 - reported; the letters stay for the next attempt
            report.failed += len(records)
            report.errors.append(f"{records[0].shard_id} {records[0].sequence_number}..{records[-1].sequence_number}: "
                                 f"{type(exc).__name__}: {exc}")
            continue
        failed = {str(f.get("itemIdentifier")) for f in response.get("batchItemFailures") or []
                  if isinstance(f, dict)}
        done = [stored.id for stored, record in zip(batch, records, strict=True)
                if record.sequence_number not in failed]
        dead_letters.mark_reprocessed(done)
        report.stored += len(done)
        report.failed += len(records) - len(done)
        if failed:
            report.errors.append(f"{records[0].shard_id}: {len(failed)} record(s) failed again")
    return report
