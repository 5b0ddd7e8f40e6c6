"""GIVEN the SQS buffer, which hands one device's messages to concurrent invocations, WHEN two of them write the
same device, THEN the second waits its turn (its messages are retried) instead of overwriting the first one's
minute items — on DynamoDB (moto), through the real processor."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from energymon.adapters.aws.device_lease import LEASE_S, DeviceLease
from energymon.adapters.aws.dynamodb_store import DynamoDBStore
from energymon.adapters.aws.sqs_event import sqs_event
from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.domain.reading import Reading, encode_message
from energymon.ports import StreamRecord
from energymon.processing import Processor, ZoneResolver

pytestmark = pytest.mark.integration

DEVICE = "apt-5"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:energymon-telemetry"


def _readings(start_ms: int, first: int, count: int) -> list[Reading]:
    return [Reading(DEVICE, start_ms + i * 1000, 400.0, 1000.0 + i * 0.1) for i in range(first, first + count)]


def _sqs(readings: list[Reading], seq: int) -> dict[str, Any]:
    body = orjson.loads(encode_message(DEVICE, seq, readings))
    body["topic_device_id"] = DEVICE
    sent = str(readings[-1].ts_ms + 500)
    return sqs_event([{"MessageId": f"m-{seq}", "Body": orjson.dumps(body).decode(),
                       "Attributes": {"SentTimestamp": sent}}], QUEUE)


def _processor(store: DynamoDBStore, tmp_path: Any) -> Processor:
    return Processor(store, FolderArchive(tmp_path / "a"), SqliteDeadLetters(tmp_path / "dl.db"),
                     PrometheusMetrics(), ZoneResolver("UTC"))



def test_given_another_invocation_holds_the_device_then_the_batch_is_retried_and_then_stored(
    client: Any, table: str, tmp_path: Any
) -> None:
    ddb = client("dynamodb")
    store = DynamoDBStore(table, client=ddb)
    processor = _processor(store, tmp_path)
    now = int(time.time() * 1000)
    start = now - now % 60_000 - 120_000
    other = DeviceLease(ddb, table, DEVICE)
    other.acquire()  # another invocation is writing apt-5 right now

    first = processor.handle(_sqs(_readings(start, 0, 10), 1))

    assert first == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert store.readings_around(DEVICE, start, start + 60_000) == []  # nothing half-written
    other.release()
    assert processor.handle(_sqs(_readings(start, 0, 10), 1)) == {"batchItemFailures": []}
    assert len(store.readings_around(DEVICE, start, start + 9_000)) == 10
    # the lease is gone after the write: the next batch needs no wait
    assert processor.handle(_sqs(_readings(start, 10, 10), 2)) == {"batchItemFailures": []}
    assert len(store.readings_around(DEVICE, start, start + 19_000)) == 20


def test_given_a_writer_that_died_holding_the_lease_then_it_is_taken_over_once_expired(
    client: Any, table: str, tmp_path: Any
) -> None:
    ddb = client("dynamodb")
    now = time.time()
    DeviceLease(ddb, table, DEVICE, clock=lambda: now - LEASE_S - 1).acquire()  # never released
    store = DynamoDBStore(table, client=ddb)
    start = int(now * 1000) - int(now * 1000) % 60_000 - 120_000

    assert _processor(store, tmp_path).handle(_sqs(_readings(start, 0, 5), 1)) == {"batchItemFailures": []}
    assert len(store.readings_around(DEVICE, start, start + 4_000)) == 5


def test_given_kinesis_then_no_lease_is_taken(client: Any, table: str, tmp_path: Any) -> None:
    """Kinesis keeps one batch of a device in flight: a held lease does not stop it (and costs no writes)."""
    ddb = client("dynamodb")
    DeviceLease(ddb, table, DEVICE).acquire()
    store = DynamoDBStore(table, client=ddb)
    now = int(time.time() * 1000)
    start = now - now % 60_000 - 120_000
    readings = _readings(start, 0, 5)
    body = orjson.loads(encode_message(DEVICE, 1, readings))
    body["topic_device_id"] = DEVICE
    record = StreamRecord("shardId-000000000000", "1", DEVICE, orjson.dumps(body), readings[-1].ts_ms / 1000 + 1)
    event = kinesis_event([record], "arn:aws:kinesis:us-east-1:123456789012:stream/s")

    assert _processor(store, tmp_path).handle(event) == {"batchItemFailures": []}
    assert len(store.readings_around(DEVICE, start, start + 4_000)) == 5
