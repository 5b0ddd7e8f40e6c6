"""The lean profile (examples/single-home-lean) proven on what `terraform apply` created on a moto server.

GIVEN conftest.lean_stack (one apply of the example: buffer = sqs, encryption = aws_managed, metrics_mode =
log_filters), moto runs neither IoT rules nor Lambda, so the test takes their places with what they would do:

* the IoT rule's SQS action: each device message, ``topic_device_id`` added by the rule's SQL, sent to the
  queue Terraform created (``SendMessage``, the body the JSON itself);
* the SQS event source mapping, with the batch size read back from Terraform's mapping: ``ReceiveMessage``,
  the event Lambda would build from those messages (energymon.adapters.aws.sqs_event), the handler built
  from the function's own environment, then ``DeleteMessage`` of every message not in ``batchItemFailures``;
* the handler writes Terraform's table and bucket; the example archives on schedule (archive_mode =
  scheduled), so the bucket gets its raw/ object when the archiver, built from its function's environment, runs.
"""

from __future__ import annotations

import gzip
import random
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from energymon.adapters.aws.emf_metrics import LEAN_METRICS, METRIC_LOG_KEY
from energymon.adapters.aws.pending_archive import PENDING_PK
from energymon.adapters.aws.sqs_event import sqs_event
from energymon.domain.reading import Reading, encode_message, telemetry_topic
from energymon.runtimes import archiver_lambda, lambda_handler

from .test_pipeline_on_terraform import MotoSession, tls_only_policy_lifted

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .conftest import AppliedStack

pytestmark = pytest.mark.integration

DEVICE = "home-1"  # the example's one device (devices.home-1 in its settings document)
READINGS = 90  # every 10 s: 15 minutes
SAMPLES_PER_MESSAGE = 3  # 30 messages: the mapping's batches of 10 per ReceiveMessage
STEP_MS = 10_000


def as_the_iot_rule_sends(topic: str, payload: bytes) -> str:
    """``SELECT *, topic(2) AS topic_device_id FROM 'energy/+/telemetry'``, the result as the SQS body."""
    body = orjson.loads(payload)
    body["topic_device_id"] = topic.split("/")[1]
    return orjson.dumps(body).decode()


def send(sqs: Any, queue_url: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), 10):
        chunk = bodies[start:start + 10]
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)])
        assert not sent.get("Failed"), sent["Failed"]


def drain(sqs: Any, queue_url: str, queue_arn: str, batch_size: int, handle: Any) -> list[dict[str, Any]]:
    """The event source mapping's loop: receive up to a batch, invoke, delete what succeeded; until empty.
    Returns every response of the handler."""
    responses = []
    for _ in range(200):  # bounded: a queue that never empties fails below, not by hanging
        messages: list[dict[str, Any]] = []
        while len(messages) < batch_size:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=min(10, batch_size - len(messages)),
                                      AttributeNames=["All"], VisibilityTimeout=60).get("Messages", [])
            if not got:
                break
            messages += got
        if not messages:
            return responses
        response = handle(sqs_event(messages, queue_arn), None)
        responses.append(response)
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start:start + 10])])
    raise AssertionError("the queue never emptied")


@contextmanager
def redrive_lifted(sqs: Any, queue_url: str) -> Iterator[None]:
    """moto 5.2 counts receives wrongly: ten messages received once each report an ApproximateReceiveCount of
    11, 10, ..., 2 (it grows with the number of messages behind them), and its redrive judges by that count, so
    messages received once land in the dead-letter queue. AWS counts each receive once. The redrive policy
    Terraform set (checked in the test above) is lifted while the test drives the queue and put back exactly."""
    policy = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"RedrivePolicy": ""})
    try:
        yield
    finally:
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"RedrivePolicy": policy})
        restored = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
        assert orjson.loads(restored["RedrivePolicy"]) == orjson.loads(policy)


def test_given_the_lean_example_then_terraform_built_an_sqs_mapping_a_redriven_queue_and_no_customer_key(
    lean_stack: AppliedStack,
) -> None:
    moto = lean_stack.moto
    lambda_, sqs = moto.client("lambda"), moto.client("sqs")
    esm = lambda_.get_event_source_mapping(UUID=str(lean_stack["event_source_mapping_uuid"]))
    # THEN the mapping reads the queue with the same batching as the fleet's stream mapping, reports partial failures,
    # and has none of Kinesis' settings.
    assert esm["EventSourceArn"] == lean_stack["queue_arn"]
    assert (esm["BatchSize"], esm["MaximumBatchingWindowInSeconds"]) == (100, 60)
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert "ParallelizationFactor" not in esm and "StartingPosition" not in esm
    # AND the queue redrives to its dead-letter queue after maximum_retry_attempts + 1 receives, stays invisible
    # six function timeouts plus the window, and is encrypted with SQS-owned keys.
    attributes = sqs.get_queue_attributes(QueueUrl=str(lean_stack["queue_url"]), AttributeNames=["All"])["Attributes"]
    redrive = orjson.loads(attributes["RedrivePolicy"])
    dlq_arn = sqs.get_queue_attributes(QueueUrl=str(lean_stack["dlq_url"]),
                                       AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert (redrive["deadLetterTargetArn"], int(redrive["maxReceiveCount"])) == (dlq_arn, 6)
    assert attributes["VisibilityTimeout"] == str(6 * 60 + 60)
    assert attributes.get("SqsManagedSseEnabled") == "true" and "KmsMasterKeyId" not in attributes
    # AND no customer managed key: the table keeps DynamoDB's AWS owned key, the bucket SSE-S3.
    assert lean_stack.outputs.get("kms_key_arn") is None  # terraform output leaves a null output out
    aliases = {a["AliasName"] for a in moto.client("kms").list_aliases()["Aliases"]}
    assert "alias/energymon-home" not in aliases
    table = moto.client("dynamodb").describe_table(TableName=str(lean_stack["table_name"]))["Table"]
    assert table.get("SSEDescription", {}).get("SSEType") != "KMS"
    rules = moto.client("s3").get_bucket_encryption(Bucket=str(lean_stack["archive_bucket_name"]))[
        "ServerSideEncryptionConfiguration"]["Rules"]
    assert [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules] == ["AES256"]
    # AND the handler is told its metrics mode, and the log group carries a filter per lean metric.
    function = lambda_.get_function_configuration(FunctionName=str(lean_stack["function_name"]))
    assert function["Environment"]["Variables"]["METRICS_MODE"] == "log_filters"
    assert "KMSKeyArn" not in function or not function["KMSKeyArn"]
    filters = moto.client("logs").describe_metric_filters(logGroupName=f"/aws/lambda/{lean_stack['function_name']}")
    by_metric = {f["metricTransformations"][0]["metricName"]: f for f in filters["metricFilters"]}
    assert set(by_metric) == LEAN_METRICS
    for name, metric_filter in by_metric.items():
        assert metric_filter["filterPattern"] == f'{{ $.{METRIC_LOG_KEY} = "{name}" }}'
        assert metric_filter["metricTransformations"][0]["metricValue"] == "$.value"
    # AND only the alarms that protect data: processor errors, the oldest message's age, the dead-letter queue,
    # the archiver's errors (the table holds an hour's only copy until it runs).
    assert set(lean_stack["alarm_names"]) == {"lambda_errors", "queue_oldest_message_age",  # type: ignore[arg-type]
                                              "dlq_messages_visible", "archiver_errors"}
    alarms = moto.client("cloudwatch").describe_alarms(
        AlarmNames=list(lean_stack["alarm_names"].values()))["MetricAlarms"]  # type: ignore[union-attr]
    age = next(a for a in alarms if a["MetricName"] == "ApproximateAgeOfOldestMessage")
    assert age["Dimensions"] == [{"Name": "QueueName", "Value": lean_stack["queue_name"]}]


def test_given_the_lean_stack_when_devices_publish_through_the_queue_and_the_mapping_runs_the_handler_then_table_and_bucket_hold_every_reading(  # noqa: E501
    lean_stack: AppliedStack, capsys: pytest.CaptureFixture[str]
) -> None:
    moto = lean_stack.moto
    session = MotoSession(moto)
    sqs = session.client("sqs")
    queue_url, queue_arn = str(lean_stack["queue_url"]), str(lean_stack["queue_arn"])
    bucket = str(lean_stack["archive_bucket_name"])
    lambda_ = session.client("lambda")
    esm = lambda_.get_event_source_mapping(UUID=str(lean_stack["event_source_mapping_uuid"]))
    env = lambda_.get_function_configuration(FunctionName=esm["FunctionArn"])["Environment"]["Variables"]

    # GIVEN a home's readings of 15 minutes, 2 h ago, as the IoT rule would put them on the queue, plus one
    # message whose payload claims another device than its topic.
    t0 = (int(time.time() * 1000) - 2 * 3_600_000) // 3_600_000 * 3_600_000
    counter, readings = 4_000_000.0, []
    for i in range(READINGS):
        step = i % 3 + 1
        counter += step if i else 0
        readings.append(Reading(DEVICE, t0 + i * STEP_MS, step * 360.0, counter))
    topic = telemetry_topic(DEVICE)
    bodies = [as_the_iot_rule_sends(topic, encode_message(DEVICE, seq, readings[start:start + SAMPLES_PER_MESSAGE]))
              for seq, start in enumerate(range(0, READINGS, SAMPLES_PER_MESSAGE))]
    spoofed = as_the_iot_rule_sends(topic, encode_message("home-2", 1, readings[:1]))

    s3 = session.client("s3")
    with tls_only_policy_lifted(s3, bucket), redrive_lifted(sqs, queue_url):
        adapters = lambda_handler.build(env, session=session)
        send(sqs, queue_url, [*bodies, spoofed])
        capsys.readouterr()
        # WHEN the mapping's twin drains the queue through the handler
        responses = drain(sqs, queue_url, queue_arn, int(esm["BatchSize"]), adapters.processor.handle)
        logged = capsys.readouterr().out

        # THEN nothing failed and the queues are empty (the dead-letter queue got nothing).
        assert responses and all(r == {"batchItemFailures": []} for r in responses)
        for url in (queue_url, str(lean_stack["dlq_url"])):
            counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            assert counts == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}, url

        # AND the table holds the home's every kWh, per minute and in the hour rollup of its zone.
        tz = adapters.shared.zone_of(DEVICE)
        expected_mwh = round((readings[-1].energy_wh - readings[0].energy_wh) * 1000)  # type: ignore[operator]
        minutes = adapters.store.periods(DEVICE, "minute", t0, t0 + 3_600_000, tz)
        assert sum(m.samples for m in minutes) == READINGS
        assert sum(round(m.import_kwh * 1e6) for m in minutes) == expected_mwh
        (hour,) = adapters.store.periods(DEVICE, "hour", t0, t0 + 3_600_000, tz)
        assert round(hour.import_kwh * 1e6) == expected_mwh
        summary = next(d for d in adapters.store.devices() if d.device_id == DEVICE)
        assert (summary.readings, summary.last_ts_ms) == (READINGS, readings[-1].ts_ms)

        # AND the bucket holds no raw/ object yet (scheduled archive): the hour is marked pending in the table
        assert env["ENERGYMON_ARCHIVE_MODE"] == "scheduled"
        assert s3.list_objects_v2(Bucket=bucket, Prefix="raw/")["KeyCount"] == 0
        table = env["ENERGYMON_TABLE_NAME"]
        markers = session.client("dynamodb").query(TableName=table, KeyConditionExpression="pk = :p",
                                                   ExpressionAttributeValues={":p": {"S": PENDING_PK}})["Items"]
        # (the lean stack is shared: the IAM test's probe device may have marked hours of its own)
        assert [m["sk"]["S"] for m in markers if m["sk"]["S"].endswith(f"#{DEVICE}")] == [f"{t0:013d}#{DEVICE}"]
        # WHEN the archiver runs (its schedule: rate(60 minutes)) with its function's environment
        archiver = str(lean_stack["archiver_function_name"])
        assert lambda_.get_function_configuration(FunctionName=archiver)  # exists
        rule = session.client("events").describe_rule(Name=f"{archiver}-schedule")
        assert rule["ScheduleExpression"] == "rate(60 minutes)"
        archiver_env = lambda_.get_function_configuration(FunctionName=archiver)["Environment"]["Variables"]
        result = archiver_lambda.run_archiver(archiver_lambda.build_archiver(archiver_env, session=session),
                                              time.time())
        # THEN the bucket holds every reading in one object under raw/date=.../, and the spoofed message under
        # rejected/.
        date = datetime.fromtimestamp(t0 / 1000, UTC).strftime("%Y-%m-%d")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"raw/date={date}/")["Contents"]]
        assert len(keys) == 1 and keys[0] in result["pending_objects"] and keys[0].startswith(f"raw/date={date}/scheduled-")
        rows = [orjson.loads(line) for k in keys
                for line in gzip.decompress(s3.get_object(Bucket=bucket, Key=k)["Body"].read()).splitlines()]
        assert sorted((r["ts"], r["energy_wh"]) for r in rows if r["device_id"] == DEVICE) == [
            (r.to_dict()["ts"], r.energy_wh) for r in readings]
        letters = [dl for dl in adapters.dead_letters.recent(50) if dl.payload == spoofed.encode()]
        assert letters and {(dl.stage, dl.code, dl.reason) for dl in letters} == {
            ("processor", "spoofed", "device_id 'home-2' does not match the topic's device 'home-1'")}
        assert s3.list_objects_v2(Bucket=bucket, Prefix="rejected/")["KeyCount"] >= 1

        # AND the metrics left the function as the log lines the Terraform filters match (no EMF in this mode).
        lines = [orjson.loads(line) for line in logged.splitlines() if line.startswith("{")]
        assert not any("_aws" in line for line in lines)
        processed = sum(line["value"] for line in lines if line.get(METRIC_LOG_KEY) == "readings_processed")
        assert processed == READINGS

        # WHEN the IoT rule delivers every message again (at-least-once), in another order, and the queue is drained
        before = (minutes, hour, summary.readings)
        again = [*bodies]
        random.Random(17).shuffle(again)
        send(sqs, queue_url, again)
        drain(sqs, queue_url, queue_arn, int(esm["BatchSize"]), adapters.processor.handle)
        # THEN the stored energy is exactly what it was.
        after = (adapters.store.periods(DEVICE, "minute", t0, t0 + 3_600_000, tz),
                 adapters.store.periods(DEVICE, "hour", t0, t0 + 3_600_000, tz)[0],
                 next(d for d in adapters.store.devices() if d.device_id == DEVICE).readings)
        assert after == before
