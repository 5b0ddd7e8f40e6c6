"""Dead letters in the archive bucket under ``rejected/``: one NDJSON object per ``put``, newest last."""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from energymon.ports import DeadLetter, DeadLetters

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_s3 import S3Client

__all__ = ["S3DeadLetters"]


def _to_json(letter: DeadLetter, at_s: float) -> dict[str, Any]:
    return {"at": at_s, "stage": letter.stage, "code": letter.code, "reason": letter.reason,
            "source": letter.source, "payload_b64": base64.b64encode(letter.payload).decode(), "detail": letter.detail}


def _from_json(row: dict[str, Any]) -> DeadLetter:
    return DeadLetter(row["stage"], row["code"], row["reason"], base64.b64decode(row["payload_b64"]),
                      row.get("source", ""), row.get("detail") or {}, row.get("at", 0.0))


class S3DeadLetters(DeadLetters):
    """Keys ``rejected/date=YYYY-MM-DD/<ms>-<content hash>-<count>.ndjson``: a replayed put rewrites the
    same object, and listing order is time order."""

    def __init__(self, bucket: str, client: S3Client | None = None, prefix: str = "rejected/") -> None:
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.bucket = bucket
        self.client = client
        self.prefix = prefix

    def _put(self, letters: Sequence[DeadLetter]) -> None:
        now = time.time()
        rows = [_to_json(dl, dl.at_s or now) for dl in letters]
        body = b"".join(orjson.dumps(row) + b"\n" for row in rows)
        first = min(row["at"] for row in rows)
        date = datetime.fromtimestamp(first, UTC).strftime("%Y-%m-%d")
        digest = hashlib.sha256(body).hexdigest()[:16]
        key = f"{self.prefix}date={date}/{int(first * 1000):013d}-{digest}-{len(rows)}.ndjson"
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson")

    def _keys(self) -> list[str]:
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        return sorted(keys)

    def recent(self, limit: int = 50) -> list[DeadLetter]:
        out: list[DeadLetter] = []
        for key in reversed(self._keys()):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            rows = [orjson.loads(line) for line in body.splitlines() if line]
            out.extend(_from_json(row) for row in reversed(rows))
            if len(out) >= limit:
                break
        return out[:limit]

    def count(self) -> int:
        return sum(int(key.rsplit("-", 1)[1].split(".", 1)[0]) for key in self._keys())
