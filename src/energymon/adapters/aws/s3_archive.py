"""The S3 archive: the same keys and bodies as the local FolderArchive, so replays overwrite, never add."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from typing import TYPE_CHECKING

from energymon.adapters.columnar import (
    BATCH_SUFFIX,
    DAYS_DIR,
    day_key,
    decode_file,
    encode_day,
    legacy_day_key,
    merge_day,
)
from energymon.adapters.local.archive import archive_key, encode_readings, group_for_archive
from energymon.domain.reading import format_ts
from energymon.errors import ArchiveError
from energymon.ports import Archive

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from mypy_boto3_s3 import S3Client

    from energymon.adapters.columnar import ArchiveProblem
    from energymon.domain.reading import Reading

__all__ = ["S3Archive"]

log = logging.getLogger(__name__)


class S3Archive(Archive):
    def __init__(self, bucket: str, client: S3Client | None = None) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.bucket = bucket
        self.client = client

    def put_readings(self, batch_id: str, readings: Sequence[Reading]) -> list[str]:
        written = []
        for key, body in group_for_archive(batch_id, readings).items():
            self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/gzip")
            written.append(key)
        return written

    def put_day(self, date: str, readings: Sequence[Reading], prefix: str = "scheduled") -> str:
        """One object of a UTC ``date``'s readings, in the per-batch format, named by its content:
        ``raw/date=D/<prefix>-<sha256[:16]>.ndjson.gz``. Writing the same readings again rewrites the same object."""
        body = encode_readings(list(readings))
        key = archive_key(date, f"{prefix}-{hashlib.sha256(body).hexdigest()[:16]}")
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/gzip")
        return key

    # ---- compaction (runs outside the Lambda: pyarrow is imported only here) ------------------------

    def compact(self, before_day_ms: int, on_problem: Callable[[ArchiveProblem], None] | None = None,
                ) -> tuple[int, int]:
        """Merge each closed day's batch objects into ``days/date=.../readings.parquet`` (as the folder archive).

        The day object is written before the batch objects are deleted: a crash in between leaves objects the
        next run merges again (duplicates are dropped). A damaged object is reported and kept. A day object of
        the earlier layout (``raw/date=.../readings.parquet``) is merged in and deleted. Needs s3:ListBucket,
        s3:GetObject and s3:DeleteObject on ``raw/*``, s3:GetObject and s3:PutObject on ``days/*``.
        """
        cutoff = format_ts(before_day_ms)[:10]
        days: dict[str, list[str]] = defaultdict(list)
        paginator = self.client.get_paginator("list_objects_v2")
        for prefix in ("raw/date=", f"{DAYS_DIR}/date="):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    day = key.split("/")[1].removeprefix("date=")
                    if day < cutoff:
                        days[day].append(key)
        compacted = merged = 0
        for day, keys in sorted(days.items()):
            target, legacy = day_key(day), legacy_day_key(day)
            batches = sorted(k for k in keys if k.endswith(BATCH_SUFFIX))
            if not batches and legacy not in keys:
                continue
            readings, good = [], []
            sources = [k for k in (target, legacy) if k in keys] + batches
            for key in sources:
                decoded = decode_file(key, self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
                if decoded.problem is not None:
                    (on_problem or _log_problem)(decoded.problem)
                    if key in (target, legacy):
                        break  # never overwrite (or drop) a day object we could not read
                    continue
                readings.extend(decoded.readings)
                good.append(key)
            else:
                done = [k for k in good if k != target]
                if not done:
                    continue
                self.client.put_object(Bucket=self.bucket, Key=target, Body=encode_day(merge_day(readings)),
                                       ContentType="application/vnd.apache.parquet")
                for start in range(0, len(done), 1000):
                    response = self.client.delete_objects(Bucket=self.bucket, Delete={
                        "Objects": [{"Key": k} for k in done[start:start + 1000]], "Quiet": True})
                    # DeleteObjects answers 200 even when it deleted nothing: the refusals are in Errors. Each is
                    # tried once more on its own (moto 5.2 authorizes the bulk call against the bucket, not each
                    # key, and refuses a role allowed s3:DeleteObject on raw/*); a refusal then is the caller's.
                    for error in response.get("Errors", []):
                        try:
                            self.client.delete_object(Bucket=self.bucket, Key=error["Key"])
                        except Exception as exc:
                            raise ArchiveError(f"compacted {target}, but S3 keeps the batch object {error['Key']} "
                                               f"({error.get('Code')}: {exc})") from exc
                compacted += 1
                merged += len(done)
        return compacted, merged


def _log_problem(problem: ArchiveProblem) -> None:
    log.warning("archive object %s", problem.line())
