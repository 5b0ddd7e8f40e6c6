"""The scheduled archive: the handler marks (UTC hour, device) pending; the archiver writes the objects.

``ENERGYMON_ARCHIVE_MODE=scheduled`` replaces the S3 PUT per batch (``S3Archive.put_readings``) by a marker
item in the store's table, written after the batch's readings are stored::

    pk = ARCHIVE#PENDING   sk = <UTC hour start ms, 13 digits>#<device>   w = a random token

Re-writing a marker is harmless (same key). The archiver (runtimes/archiver_lambda.py), each run, takes every
marker of a closed hour, reads that hour's readings back from the device's minute items (the store keeps every
accepted reading there, losslessly packed, until the TTL — at least 44 days after its last write), writes one
object per UTC date in exactly the per-batch format (``S3Archive.put_day``:
``raw/date=D/scheduled-<sha256[:16]>.ndjson.gz``) and then deletes each marker only if its token is unchanged:
a late batch that rewrote the marker meanwhile leaves it for the next run. The archive stays a superset of the
stored readings: a crash after the object and before the deletes rewrites the same object (same content, same
name) or, if late readings joined, another one whose duplicates compaction drops (``merge_day``).

Why it is safe for a container to skip re-writing a marker it wrote itself for the *open* hour: the archiver only
reads or deletes markers of hours that closed before its own clock's hour, so a marker of the open hour stays
until that hour ends, and readings stored before then are read back by the archiver's later, strongly
consistent Query. A skip is allowed only until ``_SKEW_MS`` before the hour ends (clock skew and slow batches).
So the steady cost is one marker write per device and hour per container, not one per batch.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from energymon.adapters.aws._dynamodb import batch_write
from energymon.adapters.aws.dynamodb_items import Minute, device_pk, minute_sk
from energymon.domain.energy import MINUTE_MS
from energymon.domain.reading import format_ts
from energymon.ports import Archive

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from mypy_boto3_dynamodb import DynamoDBClient

    from energymon.adapters.aws.s3_archive import S3Archive
    from energymon.domain.reading import Reading

__all__ = ["PENDING_PK", "PendingArchive", "PendingReport", "archive_pending", "marker_sk", "parse_marker_sk"]

log = logging.getLogger(__name__)

PENDING_PK = "ARCHIVE#PENDING"
HOUR_MS = 3_600_000
_SKEW_MS = 120_000
#: Readings per object (and so in memory at once) before the archiver writes it and starts the next.
MAX_OBJECT_READINGS = 500_000


def marker_sk(hour_ms: int, device_id: str) -> str:
    return f"{hour_ms:013d}#{device_id}"


def parse_marker_sk(sk: str) -> tuple[int, str]:
    hour, _, device = sk.partition("#")
    return int(hour), device


class PendingArchive(Archive):
    """The Archive port over marker items: ``put_readings`` marks each (UTC hour, device) of the batch pending."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.table_name = table_name
        self.client = client
        self.clock = clock
        self._marked: set[tuple[int, str]] = set()  # markers of the open hour this container wrote

    def put_readings(self, batch_id: str, readings: Sequence[Reading]) -> list[str]:
        del batch_id  # the marker's key is the (hour, device): every batch of that hour shares it
        now_ms = int(self.clock() * 1000)
        open_hour = now_ms - now_ms % HOUR_MS
        self._marked = {m for m in self._marked if m[0] == open_hour}
        safe = now_ms < open_hour + HOUR_MS - _SKEW_MS
        wanted = {(r.ts_ms - r.ts_ms % HOUR_MS, r.device_id) for r in readings}
        todo = sorted(m for m in wanted if not (safe and m in self._marked))
        if todo:
            batch_write(self.client, self.table_name, [
                {"PutRequest": {"Item": {"pk": {"S": PENDING_PK}, "sk": {"S": marker_sk(*m)},
                                         "w": {"S": secrets.token_hex(8)}}}} for m in todo])
            self._marked.update(m for m in todo if m[0] == open_hour)
        return [marker_sk(*m) for m in todo]


@dataclass
class PendingReport:
    """What one archiver pass did with the pending markers."""

    objects: list[str] = field(default_factory=list)  # keys written
    readings: int = 0
    archived_markers: int = 0  # deleted after their hour was written
    kept_markers: int = 0  # rewritten by a late batch meanwhile: archived again by the next run

    def as_dict(self) -> dict[str, Any]:
        return {"pending_objects": self.objects, "pending_readings": self.readings,
                "pending_markers_archived": self.archived_markers, "pending_markers_kept": self.kept_markers}


def _markers(client: DynamoDBClient, table: str, before_hour_ms: int) -> Iterator[tuple[int, str, str]]:
    """(hour, device, token) of every marker of an hour before ``before_hour_ms``, by hour then device."""
    paginator = client.get_paginator("query")
    for page in paginator.paginate(
        TableName=table, ConsistentRead=True, KeyConditionExpression="pk = :p AND sk < :h",
        ExpressionAttributeValues={":p": {"S": PENDING_PK}, ":h": {"S": f"{before_hour_ms:013d}"}},
    ):
        for item in page.get("Items", []):
            hour, device = parse_marker_sk(item["sk"]["S"])
            yield hour, device, item["w"]["S"]


def _hour_readings(client: DynamoDBClient, table: str, device_id: str, hour_ms: int) -> list[Reading]:
    """Every stored reading of the device in the UTC hour, from its minute items (strongly consistent: the
    items were written before the marker that was read)."""
    out: list[Reading] = []
    paginator = client.get_paginator("query")
    for page in paginator.paginate(
        TableName=table, ConsistentRead=True, KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
        ProjectionExpression="#k, #r", ExpressionAttributeNames={"#k": "sk", "#r": "r"},
        ExpressionAttributeValues={":p": {"S": device_pk(device_id)}, ":a": {"S": minute_sk(hour_ms)},
                                   ":b": {"S": minute_sk(hour_ms + HOUR_MS - MINUTE_MS)}},
    ):
        for item in page.get("Items", []):
            out.extend(Minute.from_item(device_id, item).readings.values())
    return out


def archive_pending(client: DynamoDBClient, table: str, archive: S3Archive, now_ms: int, *,
                    max_object_readings: int = MAX_OBJECT_READINGS) -> PendingReport:
    """Archive the readings of every marked (hour, device) whose UTC hour closed before ``now_ms``: one object per
    UTC date (more when a date holds over ``max_object_readings``), each written before its markers are deleted."""
    report = PendingReport()
    chunk: list[tuple[int, str, str]] = []
    readings: list[Reading] = []

    def flush(date: str) -> None:
        if readings:
            report.objects.append(archive.put_day(date, readings))
            report.readings += len(readings)
        for hour, device, token in chunk:
            try:
                client.delete_item(TableName=table, Key={"pk": {"S": PENDING_PK}, "sk": {"S": marker_sk(hour, device)}},
                                   ConditionExpression="w = :w", ExpressionAttributeValues={":w": {"S": token}})
            except client.exceptions.ConditionalCheckFailedException:
                report.kept_markers += 1
            else:
                report.archived_markers += 1
        chunk.clear()
        readings.clear()

    by_date: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for marker in _markers(client, table, now_ms - now_ms % HOUR_MS):
        by_date[format_ts(marker[0])[:10]].append(marker)
    for date, markers in sorted(by_date.items()):
        for marker in markers:
            readings.extend(_hour_readings(client, table, marker[1], marker[0]))
            chunk.append(marker)
            if len(readings) >= max_object_readings:
                flush(date)
        flush(date)
    if report.kept_markers:
        log.info("%d pending archive markers were rewritten during the run; the next run archives them",
                 report.kept_markers)
    return report
