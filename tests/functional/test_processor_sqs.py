"""The ONE handler fed SQS-shaped events (the lean profile's buffer): the same processing as Kinesis.

GIVEN tests/events/sqs_two_devices.json, the very messages of kinesis_two_devices.json as the IoT rule's SQS action
and Lambda's SQS event source mapping deliver them (JSON body, SentTimestamp, message ids).
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

import pytest

from energymon.adapters.aws.sqs_event import sqs_event
from energymon.processing.event_shapes import KINESIS, SQS, shape_of
from functional.test_processor import EVENTS, FailingStore, Local, load

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def local(tmp_path: Path) -> Local:
    return Local(tmp_path)


def body_of(data: str) -> str:
    """The bytes a Kinesis record carries; what is not base64 there is sent as it stands (SQS has no encoding)."""
    try:
        return base64.b64decode(data).decode()
    except ValueError:
        return data


def kinesis_as_sqs(event: dict[str, Any]) -> dict[str, Any]:
    """Each Kinesis record's bytes as an SQS message, the way the IoT rule's SQS action would have sent them."""
    messages = [{"MessageId": f"m-{i}", "Body": body_of(r["kinesis"]["data"]),
                 "Attributes": {"SentTimestamp": str(int(r["kinesis"]["approximateArrivalTimestamp"] * 1000))}}
                for i, r in enumerate(event["Records"])]
    return sqs_event(messages, "arn:aws:sqs:eu-west-1:123456789012:energymon-telemetry")


def test_given_the_event_shapes_then_sqs_and_kinesis_are_told_apart_by_their_records() -> None:
    assert shape_of(load("sqs_two_devices.json")["Records"]) is SQS
    assert shape_of(load("kinesis_two_devices.json")["Records"]) is KINESIS
    assert shape_of([]) is KINESIS  # an empty batch: nothing to tell, nothing to do


def test_given_two_devices_on_sqs_when_handled_then_each_devices_kwh_is_what_it_published(local: Local) -> None:
    response = local.processor.handle(load("sqs_two_devices.json"), None)
    assert response == {"batchItemFailures": []}
    assert local.kwh("apt-12", "Europe/Berlin") == pytest.approx(0.029, abs=1e-9)  # 5000 → 5029 Wh
    assert local.kwh("apt-7") == pytest.approx(0.050, abs=1e-9)
    assert local.metrics.total("readings_processed") == 36


def test_given_the_same_messages_on_either_buffer_then_the_stored_minutes_are_identical(tmp_path: Path) -> None:
    via_kinesis, via_sqs = Local(tmp_path / "k"), Local(tmp_path / "s")
    via_kinesis.processor.handle(load("kinesis_two_devices.json"), None)
    via_sqs.processor.handle(load("sqs_two_devices.json"), None)
    for device in ("apt-12", "apt-7"):
        assert via_sqs.store.periods(device, "minute", 0, 2**42, "UTC") == \
            via_kinesis.store.periods(device, "minute", 0, 2**42, "UTC")


def test_given_sqs_redelivering_a_batch_in_another_order_then_nothing_is_counted_twice(local: Local) -> None:
    event = load("sqs_two_devices.json")
    local.processor.handle(event, None)
    local.processor.handle({"Records": list(reversed(event["Records"]))}, None)
    assert local.kwh("apt-12", "Europe/Berlin") == pytest.approx(0.029, abs=1e-9)
    assert {d.device_id: d.readings for d in local.store.devices()} == {"apt-12": 30, "apt-7": 6}
    # The archive names a batch by its message ids, not their order: the redelivery overwrote its object.
    assert len(list(local.archive_root.rglob("*.gz"))) == 1


def test_given_a_store_failure_on_sqs_then_exactly_that_devices_message_ids_are_reported(tmp_path: Path) -> None:
    local = Local(tmp_path, FailingStore(tmp_path / "store.db", failing_device="apt-7"))
    event = load("sqs_two_devices.json")
    response = local.processor.handle(event, None)
    apt7 = [r["messageId"] for r in event["Records"] if '"device_id":"apt-7"' in r["body"]]
    assert apt7 and sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == sorted(apt7)
    assert local.kwh("apt-12", "Europe/Berlin") == pytest.approx(0.029, abs=1e-9)
    # WHEN SQS redelivers only the failed messages (the others were deleted) THEN the device's energy arrives.
    local.store.failing_device = "none"
    retry = {"Records": [r for r in event["Records"] if r["messageId"] in apt7]}
    assert local.processor.handle(retry, None) == {"batchItemFailures": []}
    assert local.kwh("apt-7") == pytest.approx(0.050, abs=1e-9)


def test_given_malformed_sqs_messages_then_each_is_dead_lettered_with_its_reason_and_message_id(local: Local) -> None:
    event = kinesis_as_sqs(load("kinesis_malformed.json"))
    expected_codes = json.loads((EVENTS / "kinesis_malformed.expected.json").read_text())
    # A body that is not base64 cannot be wrong on SQS: the Kinesis-only rejection becomes "not JSON" there.
    expected_codes = ["not_json" if code == "not_base64" else code for code in expected_codes]
    no_body = {**event["Records"][1], "messageId": "m-no-body", "body": None}
    event["Records"].insert(2, no_body)
    expected_codes.insert(1, "no_body")
    assert local.processor.handle(event, None) == {"batchItemFailures": []}
    letters = list(reversed(local.dead_letters.recent(100)))
    assert [dl.code for dl in letters] == expected_codes
    assert [dl.source for dl in letters] == [r["messageId"] for r in event["Records"][1:-1]]
    assert all(dl.reason for dl in letters)
    assert local.kwh("apt-12", "Europe/Berlin") == pytest.approx(0.001, abs=1e-9)
    assert local.metrics.total("readings_rejected") == len(expected_codes)


def test_given_a_message_without_a_sent_timestamp_then_it_is_judged_as_of_now(local: Local) -> None:
    event = load("sqs_two_devices.json")
    for record in event["Records"]:
        record["attributes"].pop("SentTimestamp")
    assert local.processor.handle(event, None) == {"batchItemFailures": []}
    assert local.kwh("apt-7") == pytest.approx(0.050, abs=1e-9)
