"""`energymon aws replay-failures` on the lean profile's SQS buffer, on what `terraform apply` created on moto.

The SQS buffer keeps what the processor gave up on differently from Kinesis: after ``max_receive_count`` failed
receives the queue's redrive policy moves the message itself, whole, into the dead-letter queue. The poison is
made as in the Kinesis test: a bad deploy (the function's table does not exist), the mapping's twin receiving and
failing until the redrive moves the messages; then the cause is fixed and the dead letters replayed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest

from energymon.adapters.aws.sqs_event import sqs_event
from energymon.domain.reading import Reading, encode_message, telemetry_topic
from energymon.runtimes import lambda_handler

from .test_pipeline_on_terraform import MotoSession, tls_only_policy_lifted
from .test_replay_failures import _cli
from .test_single_home_lean import as_the_iot_rule_sends, send

if TYPE_CHECKING:
    from .conftest import AppliedStack

pytestmark = pytest.mark.integration

DEVICE = "home-replay"
MESSAGES, SAMPLES = 3, 10


def _depth(sqs: Any, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _fail_until_redriven(sqs: Any, queue_url: str, queue_arn: str, dlq_url: str, handle: Any) -> None:
    """The event source mapping's loop with a handler that fails every record: nothing is deleted, each message
    is received again until the redrive policy moves it to the dead-letter queue."""
    for _ in range(100):
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                  VisibilityTimeout=0).get("Messages", [])
        if got:
            response = handle(sqs_event(got, queue_arn), None)
            assert {f["itemIdentifier"] for f in response["batchItemFailures"]} == {m["MessageId"] for m in got}
        elif _depth(sqs, dlq_url) >= MESSAGES:
            return
    raise AssertionError("the redrive policy never moved the failed messages")


def test_given_messages_the_sqs_buffer_gave_up_on_when_the_cause_is_fixed_then_replay_stores_them_once_and_empties_the_dead_letter_queue(  # noqa: E501
    lean_stack: AppliedStack,
) -> None:
    session = MotoSession(lean_stack.moto)
    sqs, lam, s3 = session.client("sqs"), session.client("lambda"), session.client("s3")
    queue_url, queue_arn, dlq_url = (str(lean_stack[k]) for k in ("queue_url", "queue_arn", "dlq_url"))
    esm = lam.get_event_source_mapping(UUID=str(lean_stack["event_source_mapping_uuid"]))
    function = esm["FunctionArn"].rsplit(":", 1)[-1]
    good_env = lam.get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    bad_env = {**good_env, "ENERGYMON_TABLE_NAME": f"{good_env['ENERGYMON_TABLE_NAME']}-gone"}

    now_ms = int(time.time() * 1000)
    t0 = now_ms - now_ms % 60_000 - 3_600_000
    readings = [Reading(DEVICE, t0 + i * 10_000, 360.0, 2_000_000.0 + i) for i in range(MESSAGES * SAMPLES)]
    bodies = [as_the_iot_rule_sends(telemetry_topic(DEVICE), encode_message(DEVICE, n, readings[n * SAMPLES:
                                                                                               (n + 1) * SAMPLES]))
              for n in range(MESSAGES)]

    with tls_only_policy_lifted(s3, str(lean_stack["archive_bucket_name"])):
        good = lambda_handler.build(good_env, session=session)
        assert good.store.readings_around(DEVICE, t0 - 1, now_ms) == []
        # GIVEN a bad deploy: every write fails, and the redrive moves the device's messages, whole, to the DLQ.
        broken = lambda_handler.build(bad_env, session=session)
        send(sqs, queue_url, bodies)
        _fail_until_redriven(sqs, queue_url, queue_arn, dlq_url, broken.processor.handle)
        assert _depth(sqs, queue_url) == 0 and _depth(sqs, dlq_url) == MESSAGES

        lam.update_function_configuration(FunctionName=function, Environment={"Variables": bad_env})
        try:
            # WHEN the user lists what the function's mapping gave up on THEN the dead-letter queue is found from
            # the buffer's redrive policy, and its three messages would be replayed.
            dry = _cli(lean_stack, "--function-name", function, "--dry-run")
            assert dry.exit_code == 0, dry.output
            assert dry.output.count("would-replay") == MESSAGES
            assert "1 message(s) from the dead-letter queue; kept: dry run" in dry.output
            assert f"{MESSAGES} message(s) from {dlq_url}" in dry.output

            # WHEN it replays before the fix THEN nothing is stored, the messages stay, the exit code says so.
            early = _cli(lean_stack, "--function-name", function)
            assert early.exit_code == 1, early.output
            assert early.output.count("failed ") >= MESSAGES and f"{MESSAGES} kept in the queue" in early.output
            assert _depth(sqs, dlq_url) == MESSAGES
        finally:
            lam.update_function_configuration(FunctionName=function, Environment={"Variables": good_env})
        assert good.store.readings_around(DEVICE, t0 - 1, now_ms) == []

        # WHEN it replays after the fix (the queue named by hand this time) THEN every reading is stored once
        # and the dead-letter queue is empty.
        fixed = _cli(lean_stack, "--queue-url", dlq_url, "--function-name", function)
        assert fixed.exit_code == 0, fixed.output
        assert fixed.output.count(f"from the dead-letter queue, {SAMPLES} reading(s) stored, 0 rejected; "
                                  f"deleted") == MESSAGES, fixed.output
        assert f"{MESSAGES} replayed and deleted ({MESSAGES * SAMPLES} reading(s) stored)" in fixed.output
        assert _depth(sqs, dlq_url) == 0
        stored = good.store.readings_around(DEVICE, t0 - 1, now_ms)
        assert [(r.ts_ms, r.energy_wh) for r in stored] == [(r.ts_ms, r.energy_wh) for r in readings]
        minutes = good.store.periods(DEVICE, "minute", t0, now_ms, "UTC")
        assert sum(m.samples for m in minutes) == MESSAGES * SAMPLES
        assert sum(round(m.import_kwh * 1e6) for m in minutes) == round((readings[-1].energy_wh or 0) * 1000
                                                                         - (readings[0].energy_wh or 0) * 1000)
