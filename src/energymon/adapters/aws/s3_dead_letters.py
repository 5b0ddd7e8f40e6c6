"""Dead letters in the archive bucket under ``rejected/``: one NDJSON object per ``put``, newest last.

Two writers share the prefix: the processor (``date=…/<ms>-<hash>-<count>.ndjson``, written here) and the IoT
topic rule's error action (``iot-rule/<device>/<ms>-<uuid>.json``, modules/iot), whose object is the
error-action message of the AWS IoT developer guide ("Error action message format"):
``{"ruleName", "topic", "cloudwatchTraceId", "clientId", "base64OriginalPayload", "failures": [{"failedAction",
"failedResource", "errorMessage"}]}`` (tests/events/iot_rule_error_action_s3_object.json). Both are listed;
any other object in the prefix is one "unreadable object" letter, never an exception.
"""

from __future__ import annotations

import base64
import binascii
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


#: Bytes of an unreadable object kept as the letter's payload (enough to recognise it).
_UNREADABLE_HEAD = 4096


def _from_iot_error(message: dict[str, Any], at_s: float, key: str) -> DeadLetter:
    """The IoT rule error-action message: the rule could not deliver the device's message to its action."""
    failures = message.get("failures")
    if not isinstance(message.get("ruleName"), str) or not isinstance(failures, list):
        raise ValueError("neither a processor dead letter nor an IoT rule error-action message")
    reasons = [f"{f.get('failedAction', '?')} {f.get('failedResource', '?')}: {f.get('errorMessage', '')}"
               for f in failures if isinstance(f, dict)]
    payload = base64.b64decode(message.get("base64OriginalPayload") or "", validate=True)
    return DeadLetter(
        stage="iot-rule", code="rule_action_failed",
        reason=f"rule {message['ruleName']} could not deliver the message: " + ("; ".join(reasons) or "no detail"),
        payload=payload, source=str(message.get("topic", "")),
        detail={"rule": message["ruleName"], "client_id": message.get("clientId", ""),
                "cloudwatch_trace_id": message.get("cloudwatchTraceId", ""), "key": key},
        at_s=at_s,
    )


def _unreadable(key: str, body: bytes, why: str, at_s: float) -> DeadLetter:
    return DeadLetter("archive", "unreadable_object", f"unreadable object {key}: {why}", body[:_UNREADABLE_HEAD],
                      key, {"key": key}, at_s)


def _letters(key: str, body: bytes, at_s: float) -> list[DeadLetter]:
    """Every letter in one object, oldest first; whatever cannot be read is one unreadable letter."""
    try:
        if key.endswith(".ndjson"):
            return [_from_json(orjson.loads(line)) for line in body.splitlines() if line]
        message = orjson.loads(body)
        if isinstance(message, dict) and "stage" in message and "payload_b64" in message:
            return [_from_json(message)]
        if not isinstance(message, dict):
            raise ValueError(f"a JSON {type(message).__name__}, not an object")
        return [_from_iot_error(message, at_s, key)]
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error) as exc:
        return [_unreadable(key, body, f"{type(exc).__name__}: {exc}", at_s)]


def _key_time_s(key: str, fallback_s: float) -> float:
    """Both writers start the file name with epoch milliseconds (ours zero-padded, IoT's ``timestamp()``)."""
    head = key.rsplit("/", 1)[-1].split("-", 1)[0]
    return int(head) / 1000 if head.isdigit() and len(head) >= 12 else fallback_s


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

    def _objects(self) -> list[tuple[float, str]]:
        """(time, key) of every object under the prefix, oldest first."""
        objects: list[tuple[float, str]] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                modified = obj.get("LastModified")
                fallback = modified.timestamp() if isinstance(modified, datetime) else 0.0
                objects.append((_key_time_s(obj["Key"], fallback), obj["Key"]))
        return sorted(objects)

    def _keys(self) -> list[str]:
        return [key for _, key in self._objects()]

    def recent(self, limit: int = 50) -> list[DeadLetter]:
        out: list[DeadLetter] = []
        for at_s, key in reversed(self._objects()):
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            out.extend(reversed(_letters(key, body, at_s)))
            if len(out) >= limit:
                break
        return out[:limit]

    def count(self) -> int:
        """Letters in all: ours carry their count in the key; any other object is one letter."""
        total = 0
        for key in self._keys():
            name = key.rsplit("/", 1)[-1]
            count = name.rsplit("-", 1)[-1].removesuffix(".ndjson") if name.endswith(".ndjson") else ""
            total += int(count) if count.isdigit() else 1
        return total
