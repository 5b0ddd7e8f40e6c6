"""`energymon aws replay-failures` on what `terraform apply` created on a moto server.

moto runs neither the event source mapping nor the Lambda: the poison batch is made the way a real
account makes one — the function's configuration points at a table that does not exist (a bad deploy),
every write fails, and Lambda, out of retries, writes the documented on-failure record (its shape is
tests/events/kinesis_on_failure_sqs_record.json, from the Lambda developer guide) into Terraform's queue.
We write that record ourselves, then fix the configuration and replay.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from energymon.adapters.mqtt.bridge import canonical_to_record
from energymon.deploy.replay_failures import parse_failure_record
from energymon.domain.reading import Reading, encode_message, telemetry_topic
from energymon.runtimes import lambda_handler
from energymon.runtimes.cli import app

from .test_pipeline_on_terraform import tls_only_policy_lifted

if TYPE_CHECKING:
    from .conftest import AppliedStack

pytestmark = pytest.mark.integration

DOC_EXAMPLE = Path(__file__).resolve().parents[2] / "events" / "kinesis_on_failure_sqs_record.json"
DEVICE = "replay-7"
READINGS = 30  # one message of 10 readings each 10 s apart, three messages: 5 minutes


def test_given_the_documented_on_failure_record_then_its_batch_info_is_read() -> None:
    """GIVEN the example record of the Lambda developer guide THEN shard, range, size and stream are read."""
    info = parse_failure_record(DOC_EXAMPLE.read_text())
    assert (info.shard_id, info.batch_size, info.stream_name, info.region) == (
        "shardId-000000000001", 500, "mystream", "us-east-2")
    assert info.start_sequence.startswith("4960118965842235937883629852182")
    assert info.condition == "RetryAttemptsExhausted"


def _put_readings(kinesis: Any, stream: str) -> tuple[str, str, str]:
    """Three records of one device as the topic rule writes them: (shard, first sequence, last sequence)."""
    now_ms = int(time.time() * 1000)
    t0 = now_ms - now_ms % 60_000 - 3_600_000
    readings = [Reading(DEVICE, t0 + i * 10_000, 360.0, 1_000_000.0 + i) for i in range(READINGS)]
    sequences, shard = [], ""
    for i in range(0, READINGS, 10):
        key, data = canonical_to_record(telemetry_topic(DEVICE), encode_message(DEVICE, i, readings[i : i + 10]))
        put = kinesis.put_record(StreamName=stream, PartitionKey=key, Data=data)
        shard = put["ShardId"]
        sequences.append(put["SequenceNumber"])
    return shard, sequences[0], sequences[-1]


def _on_failure_record(shard: str, first: str, last: str, stream_arn: str, function_arn: str) -> str:
    record = json.loads(DOC_EXAMPLE.read_text())
    record["requestContext"]["functionArn"] = function_arn
    record["KinesisBatchInfo"].update(shardId=shard, startSequenceNumber=first, endSequenceNumber=last,
                                      batchSize=READINGS // 10, streamArn=stream_arn)
    return json.dumps(record)


def _cli(stack: AppliedStack, *args: str) -> Any:
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": None,
           "AWS_REGION": None, "AWS_PROFILE": None, "AWS_ENDPOINT_URL": None,
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    return CliRunner().invoke(app, ["aws", "replay-failures", "--endpoint-url", stack.moto.endpoint,
                                    "--region", stack.moto.region, *args], env=env)


def _drain(sqs: Any, queue_url: str) -> None:
    """Empty the queue (PurgeQueue is allowed once a minute only, on AWS and on moto)."""
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _queue_depth(stack: AppliedStack) -> int:
    attrs = stack.moto.client("sqs").get_queue_attributes(
        QueueUrl=stack["dlq_url"], AttributeNames=["ApproximateNumberOfMessages",
                                                   "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _stored(stack: AppliedStack) -> tuple[int, int, list[Any]]:
    """(raw readings, summed minute samples, the minute rows) of the device in Terraform's table."""
    import boto3

    session = boto3.session.Session(region_name=stack.moto.region, aws_access_key_id="testing",
                                    aws_secret_access_key="testing")
    env = dict(stack["function_environment_variables"])  # type: ignore[call-overload]
    adapters = lambda_handler.build(env, session=_MotoSession(session, stack.moto.endpoint))
    now_ms = int(time.time() * 1000)
    lo, hi = now_ms - 3 * 3_600_000, now_ms
    raw = adapters.store.readings_around(DEVICE, lo, hi)
    minutes = adapters.store.periods(DEVICE, "minute", lo, hi, "UTC")
    return len(raw), sum(m.samples for m in minutes), [(m.start_ms, m.samples, m.import_kwh) for m in minutes]


class _MotoSession:
    def __init__(self, session: Any, endpoint: str) -> None:
        self.session, self.endpoint = session, endpoint

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)


def test_given_a_poison_batch_in_the_on_failure_queue_when_the_cause_is_fixed_then_replay_stores_it_once_and_deletes_the_message(  # noqa: E501
    applied_stack: AppliedStack,
) -> None:
    stack = applied_stack
    with tls_only_policy_lifted(stack.moto.client("s3"), str(stack["archive_bucket_name"])):
        _poison_batch_then_fix_then_replay_twice(stack)


def _poison_batch_then_fix_then_replay_twice(stack: AppliedStack) -> None:
    kinesis, sqs, lam = (stack.moto.client(s) for s in ("kinesis", "sqs", "lambda"))
    _drain(sqs, str(stack["dlq_url"]))
    function = str(stack["function_name"])
    stream_arn = kinesis.describe_stream_summary(StreamName=stack["stream_name"])["StreamDescriptionSummary"][
        "StreamARN"]
    shard, first, last = _put_readings(kinesis, str(stack["stream_name"]))
    function_arn = lam.get_function_configuration(FunctionName=function)["FunctionArn"]
    body = _on_failure_record(shard, first, last, stream_arn, function_arn)
    # A later record of the same device on the same shard, not in the failed batch: the replay stops before it.
    later_ms = int(time.time() * 1000) - 60_000
    key, data = canonical_to_record(telemetry_topic(DEVICE), encode_message(DEVICE, 99, [
        Reading(DEVICE, later_ms, 360.0, 1_000_100.0)]))
    assert kinesis.put_record(StreamName=stack["stream_name"], PartitionKey=key, Data=data)["ShardId"] == shard
    good_env = dict(stack["function_environment_variables"])  # type: ignore[call-overload]

    # GIVEN a bad deploy: the function's table does not exist, so every write of the batch fails; Lambda gives
    # up and writes the on-failure record into Terraform's queue.
    lam.update_function_configuration(FunctionName=function, Environment={"Variables": {
        **good_env, "ENERGYMON_TABLE_NAME": f"{good_env['ENERGYMON_TABLE_NAME']}-gone"}})
    try:
        sqs.send_message(QueueUrl=stack["dlq_url"], MessageBody=body)

        # WHEN the user lists the queue (found from the function's mapping) THEN the batch would be replayed.
        dry = _cli(stack, "--function-name", function, "--dry-run")
        assert dry.exit_code == 0, dry.output
        assert f"would-replay {shard} {first}..{last}: 3 record(s) re-read; kept: dry run" in dry.output
        assert _queue_depth(stack) == 1

        # WHEN it replays before the fix THEN nothing is stored, the message stays, the exit code says so.
        early = _cli(stack, "--function-name", function)
        assert early.exit_code == 1, early.output
        assert "failed" in early.output and "3 record(s) failed" in early.output, early.output
        assert "1 kept in the queue" in early.output
        assert _queue_depth(stack) == 1
    finally:
        # The fix: the configuration Terraform made.
        lam.update_function_configuration(FunctionName=function, Environment={"Variables": good_env})
    assert _stored(stack)[0] == 0

    # WHEN it replays after the fix THEN every reading is stored once and the message is gone.
    fixed = _cli(stack, "--function-name", function)
    assert fixed.exit_code == 0, fixed.output
    assert f"replayed     {shard} {first}..{last}: 3 record(s) re-read, 30 reading(s) stored, 0 rejected; " \
           f"deleted" in fixed.output, fixed.output
    assert "1 message(s)" in fixed.output and "0 kept in the queue" in fixed.output
    assert _queue_depth(stack) == 0
    raw, samples, minutes = _stored(stack)
    assert (raw, samples) == (READINGS, READINGS)

    # WHEN the same record arrives and is replayed again THEN the table is exactly as it was (idempotent).
    sqs.send_message(QueueUrl=stack["dlq_url"], MessageBody=body)
    again = _cli(stack, "--queue-url", str(stack["dlq_url"]), "--function-name", function)
    assert again.exit_code == 0, again.output
    assert _queue_depth(stack) == 0
    assert _stored(stack) == (raw, samples, minutes)


def test_given_records_past_the_retention_then_the_message_is_kept_and_counted_as_expired(
    applied_stack: AppliedStack,
) -> None:
    """GIVEN an on-failure record whose first sequence number the stream no longer holds (trimmed: the
    iterator starts at the oldest record still held; moto numbers from 1, so 0 is one before any it has)
    THEN it is reported expired, kept, and the exit code is 1."""
    stack = applied_stack
    kinesis, sqs = stack.moto.client("kinesis"), stack.moto.client("sqs")
    _drain(sqs, str(stack["dlq_url"]))
    stream_arn = kinesis.describe_stream_summary(StreamName=stack["stream_name"])["StreamDescriptionSummary"][
        "StreamARN"]
    shard, first, last = _put_readings(kinesis, str(stack["stream_name"]))
    trimmed = "0"
    sqs.send_message(QueueUrl=stack["dlq_url"],
                     MessageBody=_on_failure_record(shard, trimmed, last, stream_arn, "arn:aws:lambda:::function:f"))
    sqs.send_message(QueueUrl=stack["dlq_url"], MessageBody="not an on-failure record")
    try:
        # The handler reads the settings document at its build: moto's TLS-only Deny ignores its condition.
        with tls_only_policy_lifted(stack.moto.client("s3"), str(stack["archive_bucket_name"])):
            result = _cli(stack, "--function-name", str(stack["function_name"]))
        assert result.exit_code == 1, result.output
        assert f"expired      {shard} {trimmed}..{last}" in result.output
        assert "past the stream's retention" in result.output
        assert "unreadable" in result.output and "not a Kinesis on-failure record" in result.output
        assert "1 expired" in result.output and "1 unreadable; 2 kept in the queue" in result.output
        assert _queue_depth(stack) == 2
    finally:
        _drain(sqs, str(stack["dlq_url"]))


@pytest.mark.parametrize(("args", "expected"), [
    (["--queue-url", "http://sqs.eu-west-1.localhost/123456789012/nope", "--dry-run"], "NonExistentQueue"),
    (["--function-name", "no-such-function"], "no-such-function"),
    ([], "pass --function-name"),
])
def test_given_bad_input_then_one_clear_line_and_no_traceback(
    applied_stack: AppliedStack, args: list[str], expected: str
) -> None:
    result = _cli(applied_stack, *args)
    assert result.exit_code in {1, 2}, result.output
    assert expected in result.output, result.output
    assert "Traceback" not in result.output


def test_given_no_region_then_it_says_so() -> None:
    result = CliRunner().invoke(app, ["aws", "replay-failures", "--function-name", "f"],
                                env={"AWS_DEFAULT_REGION": None, "AWS_REGION": None, "AWS_PROFILE": None,
                                     "AWS_CONFIG_FILE": "/dev/null", "AWS_ACCESS_KEY_ID": "testing",
                                     "AWS_SECRET_ACCESS_KEY": "testing"})
    assert result.exit_code == 1, result.output
    assert "no AWS region" in result.output and "Traceback" not in result.output


def test_given_no_credentials_then_it_says_so(applied_stack: AppliedStack) -> None:
    result = CliRunner().invoke(app, ["aws", "replay-failures", "--function-name", "f", "--region", "eu-west-1",
                                      "--endpoint-url", applied_stack.moto.endpoint],
                                env={"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_PROFILE": None,
                                     "AWS_SESSION_TOKEN": None, "AWS_CONFIG_FILE": "/dev/null",
                                     "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_EC2_METADATA_DISABLED": "true"})
    assert result.exit_code == 1, result.output
    assert "no AWS credentials" in result.output and "Traceback" not in result.output
