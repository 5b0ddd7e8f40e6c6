"""Objects the IoT topic rule's error action writes under ``rejected/`` (modules/iot) are dead letters too.

The object is the error-action message of the AWS IoT developer guide, "Error action message format"
(tests/events/iot_rule_error_action_s3_object.json is the guide's example); the realistic one below is what our
rule writes when its Kinesis action fails, at the key modules/iot gives it.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from energymon.adapters.aws.s3_dead_letters import S3DeadLetters
from energymon.ports import DeadLetter

pytestmark = pytest.mark.integration

DOC_EXAMPLE = Path(__file__).resolve().parents[2] / "events" / "iot_rule_error_action_s3_object.json"
AT_MS = 1_790_000_000_000


def _kinesis_failure(device: str, payload: bytes) -> dict[str, Any]:
    return {
        "ruleName": "energymon_telemetry_to_kinesis",
        "topic": f"energy/{device}/telemetry",
        "cloudwatchTraceId": "0c1c3f6e-5f7d-4a3e-9a9c-2c6d1e0c7b11",
        "clientId": device,
        "base64OriginalPayload": base64.b64encode(payload).decode(),
        "failures": [{
            "failedAction": "KinesisAction",
            "failedResource": "energymon-telemetry",
            "errorMessage": "Failed to send message to Kinesis. The error received was Rate exceeded for shard "
                            "shardId-000000000000 (Service: AmazonKinesis; Status Code: 400; Error Code: "
                            "ProvisionedThroughputExceededException).",
        }],
    }


def test_given_iot_error_action_objects_and_junk_when_listed_then_each_is_a_dead_letter_with_its_reason(
    client: Any, bucket: str
) -> None:
    s3 = client("s3")
    letters = S3DeadLetters(bucket, client=s3)
    # GIVEN one processor letter, then (later) what the IoT rule's error action writes, then junk in the prefix.
    letters.put([DeadLetter("processor", "not_json", "payload is not JSON", b"\xff{", "shard:1", at_s=AT_MS / 1000)])
    payload = b'{"v": 1, "device_id": "apt-1", "seq": 7, "samples": []}'
    s3.put_object(Bucket=bucket, Key=f"rejected/iot-rule/apt-1/{AT_MS + 1000}-6f1c2d4e-aaaa-bbbb-cccc-0123456789ab.json",
                  Body=json.dumps(_kinesis_failure("apt-1", payload)).encode())
    s3.put_object(Bucket=bucket, Key=f"rejected/iot-rule/testme/{AT_MS + 2000}-0f0e0d0c-aaaa-bbbb-cccc-0123456789ab.json",
                  Body=DOC_EXAMPLE.read_bytes())
    s3.put_object(Bucket=bucket, Key=f"rejected/iot-rule/apt-2/{AT_MS + 3000}-truncated.json", Body=b'{"ruleName": "x", ')
    s3.put_object(Bucket=bucket, Key="rejected/notes.txt", Body=b"\x00\x01 not json")
    s3.put_object(Bucket=bucket, Key=f"rejected/iot-rule/apt-3/{AT_MS + 4000}-x.json",
                  Body=b'{"ruleName": "r", "failures": [], "base64OriginalPayload": "***"}')

    # WHEN the dead letters are listed THEN every object is there, none raised, newest first (the junk has no
    # time in its name: its upload time, now, makes it the newest).
    recent = letters.recent(50)
    assert letters.count() == 6
    assert [r.code for r in recent] == ["unreadable_object", "unreadable_object", "unreadable_object",
                                        "rule_action_failed", "rule_action_failed", "not_json"]
    ours = recent[4]
    assert (ours.stage, ours.source, ours.payload) == ("iot-rule", "energy/apt-1/telemetry", payload)
    assert ours.reason.startswith("rule energymon_telemetry_to_kinesis could not deliver the message: KinesisAction "
                                  "energymon-telemetry: Failed to send message to Kinesis.")
    assert ours.detail["client_id"] == "apt-1" and ours.at_s == (AT_MS + 1000) / 1000
    doc = recent[3]
    assert doc.payload == b'{\n  "message": "Hello vrom AWS IoT console"\n}'
    assert "S3Action us-east-1-s3-verify-user: Failed to put S3 object." in doc.reason
    junk, bad_base64, truncated = recent[0], recent[1], recent[2]
    assert bad_base64.reason.startswith(f"unreadable object rejected/iot-rule/apt-3/{AT_MS + 4000}-x.json")
    assert truncated.reason.startswith("unreadable object rejected/iot-rule/apt-2/")
    assert junk.reason.startswith("unreadable object rejected/notes.txt:") and junk.payload == b"\x00\x01 not json"
