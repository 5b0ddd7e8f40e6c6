"""The archiver: a third entry point of the same package, run by an EventBridge schedule (infra/terraform/modules/
archive). Each run, as of the scheduled event's time:

1. pins the silence openers a late reading's recompute can still read, before DynamoDB's TTL can delete them
   (``dynamodb_retention.pin_openers``; more often than every two days keeps the local rule exact);
2. archives what the processor marked pending under ``ENERGYMON_ARCHIVE_MODE=scheduled`` (every marked UTC hour
   and device whose hour has closed, read back from the minute items: one object per UTC date in the per-batch
   format, ``pending_archive.archive_pending``). It runs in either mode, so markers left by a switch back to
   ``per_batch`` are still archived, and the archiver needs no mode of its own;
3. compacts every closed UTC day's per-batch gzip NDJSON objects into ``days/date=YYYY-MM-DD/readings.parquet``
   (zstd, device id a column: ``S3Archive.compact``). A damaged object is reported by key, kept, and skipped.

Its environment is exactly ``ARCHIVER_ENVIRONMENT``. pyarrow is imported only by the compaction, so the function
needs a package (or layer) with pyarrow; the processor's does not.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from energymon.runtimes.lambda_handler import _require, raw_retention_days, scheduled_time

if TYPE_CHECKING:
    from collections.abc import Mapping

    from energymon.adapters.aws.dynamodb_store import DynamoDBStore
    from energymon.adapters.aws.s3_archive import S3Archive
    from energymon.adapters.columnar import ArchiveProblem

__all__ = ["ARCHIVER_ENVIRONMENT", "ArchiverAdapters", "build_archiver", "handler", "run_archiver"]

log = logging.getLogger(__name__)

ARCHIVER_ENVIRONMENT = (
    "ENERGYMON_TABLE_NAME",
    "ENERGYMON_ARCHIVE_BUCKET",
    "ENERGYMON_RAW_RETENTION_DAYS",
    "ENERGYMON_STREAM_RETENTION_HOURS",
    "POWERTOOLS_LOG_LEVEL",
)

_DAY_MS = 86_400_000


@dataclass
class ArchiverAdapters:
    store: DynamoDBStore
    archive: S3Archive
    stream_retention_hours: float


def build_archiver(environ: Mapping[str, str] | None = None, session: Any = None) -> ArchiverAdapters:
    env = _require(os.environ if environ is None else environ, ARCHIVER_ENVIRONMENT, what="the archiver function")
    try:
        hours = float(env["ENERGYMON_STREAM_RETENTION_HOURS"])
    except ValueError:
        from energymon.errors import ConfigError

        raise ConfigError(f"ENERGYMON_STREAM_RETENTION_HOURS: {env['ENERGYMON_STREAM_RETENTION_HOURS']!r} "
                          "is not a number of hours") from None
    retention = raw_retention_days(env)
    import boto3

    from energymon.adapters.aws.dynamodb_store import DynamoDBStore
    from energymon.adapters.aws.s3_archive import S3Archive

    logging.getLogger("energymon").setLevel(env["POWERTOOLS_LOG_LEVEL"].upper())
    session = session or boto3.session.Session()
    store = DynamoDBStore(env["ENERGYMON_TABLE_NAME"], client=session.client("dynamodb"),
                          raw_retention_days=retention)
    return ArchiverAdapters(store, S3Archive(env["ENERGYMON_ARCHIVE_BUCKET"], client=session.client("s3")), hours)


def run_archiver(adapters: ArchiverAdapters, now_s: float) -> dict[str, Any]:
    """One pass as of ``now_s``: what was pinned, compacted and skipped (the function's result)."""
    from energymon.adapters.aws.dynamodb_retention import pin_openers
    from energymon.adapters.aws.pending_archive import archive_pending

    pinned = pin_openers(adapters.store, now_s, stream_retention_hours=adapters.stream_retention_hours)
    now_ms = int(now_s * 1000)
    pending = archive_pending(adapters.store.client, adapters.store.table_name, adapters.archive, now_ms)
    problems: list[ArchiveProblem] = []

    def report(problem: ArchiveProblem) -> None:
        log.warning("archive object %s", problem.line())
        problems.append(problem)

    days, merged = adapters.archive.compact(now_ms - now_ms % _DAY_MS, report)
    return {"pinned_openers": pinned, **pending.as_dict(), "compacted_days": days, "merged_objects": merged,
            "skipped_objects": [p.line() for p in problems]}


_adapters: ArchiverAdapters | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The EventBridge schedule's entry point, as of the event's time but never later than the function's clock
    (pending markers of an hour are archived only once that hour is over, see pending_archive.py)."""
    global _adapters  # noqa: PLW0603 - one composition per container, reused across invocations
    now_s = min(scheduled_time(event), time.time())
    if _adapters is None:
        _adapters = build_archiver()
    return run_archiver(_adapters, now_s)
