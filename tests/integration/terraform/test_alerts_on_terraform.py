"""Consumption alerts on the applied stack: the processor and the scheduled handler, each under its own
Terraform role with IAM enforced, deliver through the consumption-alert SNS topic to an SQS queue the test reads.

GIVEN the session's stack (examples/moto) and a settings document in s3://<archive>/config/settings.json with a
kettle rule (power_above 2000 W, clear 1800 W, 60 s) and a meter-offline rule (no_data, 300 s), both sending to an
`sns` channel on the stack's consumption-alert topic, and an SQS queue subscribed to that topic per rule (a filter
policy on the `rule` message attribute keeps each test's messages apart).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from energymon.runtimes import lambda_handler
from functional.alert_rig import Sample, iso, steady

from .test_iam_enforced import granted_actions
from .test_pipeline_on_terraform import tls_only_policy_lifted

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .conftest import AppliedStack
    from .roles import RoleRunner, RoleSession

pytestmark = pytest.mark.integration

MIN = 60_000
KETTLE_DEVICE = "alerts-kettle-1"
SILENT_DEVICE = "alerts-silent-1"
#: Hours before now of each scenario's start: recent readings (older than 35 days are refused), whole hours.
T_KETTLE = (int(time.time() * 1000) - 3 * 3_600_000) // 3_600_000 * 3_600_000
T_SILENT = T_KETTLE + 30 * MIN

#: Granted actions of the scheduled role that no code of scheduled_handler calls, with who does.
SCHEDULED_GRANTS_FOR_AWS = {
    "logs:CreateLogStream": "Lambda runtime (function logs)",
    "logs:PutLogEvents": "Lambda runtime (function logs)",
    "kms:Decrypt": "DynamoDB/S3/Lambda env server-side on the role's behalf",
    "kms:GenerateDataKey": "SNS server-side encryption of the consumption topic on the role's behalf",
}


def settings_document(topic_arn: str) -> dict[str, Any]:
    return {"alerts": {
        "rules": [
            {"name": "kettle-left-on", "kind": "power_above", "device": KETTLE_DEVICE, "threshold_w": 2000,
             "clear_w": 1800, "for_s": 60, "channels": ["phone"]},
            {"name": "meter-offline", "kind": "no_data", "device": SILENT_DEVICE, "for_s": 300,
             "channels": ["phone"]},
        ],
        "channels": [{"name": "phone", "kind": "sns", "topic_arn": topic_arn}],
    }}


_seq = itertools.count(1)


def kinesis_event(device: str, samples: list[Sample], arrival_ms: int) -> dict[str, Any]:
    """One record as the event source mapping delivers it (FACTS.md), arriving at ``arrival_ms``."""
    body = {"v": 1, "device_id": device, "seq": next(_seq),
            "samples": [{"ts": iso(s.ts_ms), "power_w": s.power_w, "energy_wh": s.energy_wh} for s in samples]}
    seq = f"{next(_seq):056d}"
    return {"Records": [{
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": device, "sequenceNumber": seq,
                    "data": base64.b64encode(orjson.dumps(body)).decode(),
                    "approximateArrivalTimestamp": arrival_ms / 1000},
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"shardId-000000000000:{seq}",
        "eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::123456789012:role/x",
        "awsRegion": "eu-west-1", "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/x"}]}


def scheduled_event(rule_arn: str, at_ms: int) -> dict[str, Any]:
    """An EventBridge Scheduled Event, as the schedule rule sends it to its target."""
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": rule_arn.split(":")[4], "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at_ms // 1000)),
            "region": rule_arn.split(":")[3], "resources": [rule_arn], "detail": {}}


class Stack:
    """The applied stack's names, the settings document in place, and the two handlers run under their roles."""

    def __init__(self, applied: AppliedStack, role_runner: RoleRunner) -> None:
        self.applied, self.moto, self.role_runner = applied, applied.moto, role_runner
        self.bucket = str(applied["archive_bucket_name"])
        self.topic_arn = str(applied["consumption_alert_topic_arn"])
        self.rule_arn = str(applied["alerts_schedule_rule_arn"])
        lambda_ = self.moto.client("lambda")
        self.processor_env = lambda_.get_function_configuration(
            FunctionName=str(applied["function_name"]))["Environment"]["Variables"]
        self.scheduled_env = lambda_.get_function_configuration(
            FunctionName=str(applied["alerts_function_name"]))["Environment"]["Variables"]
        self.document = settings_document(self.topic_arn)

    def process(self, session: RoleSession, device: str, samples: list[Sample], per_batch: int = 3) -> None:
        """The processor handler (instant rules on) over ``samples``, ``per_batch`` a batch, arriving 2 s late."""
        adapters = lambda_handler.build(self.processor_env, session=session,
                                        alerts=lambda_handler.alerts_from_document(self.document))
        assert adapters.alert_evaluator is not None
        for i in range(0, len(samples), per_batch):
            batch = samples[i:i + per_batch]
            response = adapters.processor.handle(kinesis_event(device, batch, batch[-1].ts_ms + 2_000))
            assert response == {"batchItemFailures": []}

    def tick(self, session: RoleSession, monkeypatch: pytest.MonkeyPatch, at_ms: int) -> dict[str, Any]:
        """``scheduled_handler`` itself, its container built from the function's environment under the role."""
        monkeypatch.setattr(lambda_handler, "_scheduled", lambda_handler.build_scheduled(self.scheduled_env, session))
        return lambda_handler.scheduled_handler(scheduled_event(self.rule_arn, at_ms), None)


@pytest.fixture(scope="module")
def stack(applied_stack: AppliedStack, role_runner: RoleRunner) -> Iterator[Stack]:
    s = Stack(applied_stack, role_runner)
    s3 = s.moto.client("s3")
    # The deployed document with this module's rules, under a key of its own (Terraform's stays as it is): both
    # functions are pointed at it, as a redeploy with these rules in the alerts variable would.
    key = "config/alerts-test.json"
    with tls_only_policy_lifted(s3, s.bucket):
        deployed = orjson.loads(s3.get_object(Bucket=s.bucket, Key=s.processor_env["ENERGYMON_SETTINGS_KEY"])[
            "Body"].read())
        body = orjson.dumps({**deployed, **s.document})
        s3.put_object(Bucket=s.bucket, Key=key, Body=body)
        pointed = {"ENERGYMON_SETTINGS_KEY": key, "ENERGYMON_SETTINGS_SHA256": hashlib.sha256(body).hexdigest()}
        s.processor_env, s.scheduled_env = {**s.processor_env, **pointed}, {**s.scheduled_env, **pointed}
        try:
            yield s
        finally:
            remove_object_versions(s3, s.bucket, key)
    remove_alert_test_items(s.moto.client("dynamodb"), str(applied_stack["table_name"]))


def remove_object_versions(s3: Any, bucket: str, key: str) -> None:
    """The bucket is versioned: delete the versions themselves, leaving no delete marker behind."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key):
        for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if version["Key"] == key:
                s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])


def remove_alert_test_items(ddb: Any, table: str) -> None:
    """This module's devices and every ALERT# item, so the session's other tests see the table as before."""
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            pk, sk = item["pk"]["S"], item["sk"]["S"]
            if pk.startswith("ALERT#") or any(d in pk or d == sk for d in (KETTLE_DEVICE, SILENT_DEVICE)):
                ddb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


def subscribed_queue(stack: Stack, rule: str) -> str:
    """A fresh SQS queue subscribed to the consumption topic, receiving only ``rule``'s messages."""
    sqs, sns = stack.moto.client("sqs"), stack.moto.client("sns")
    url = sqs.create_queue(QueueName=f"alerts-{rule}-{uuid.uuid4().hex[:6]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=stack.topic_arn, Protocol="sqs", Endpoint=arn,
                  Attributes={"FilterPolicy": json.dumps({"rule": [rule]})})
    return url


def received(stack: Stack, url: str) -> list[dict[str, Any]]:
    """Every message waiting in the queue (deleted once read): the notification bodies, oldest first."""
    sqs, out = stack.moto.client("sqs"), []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            return out
        for m in messages:
            envelope = json.loads(m["Body"])  # the SNS envelope; the notification body is its Message
            out.append({"subject": envelope.get("Subject"), **json.loads(envelope["Message"])})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def assert_allowed(session: RoleSession) -> None:
    log = session.log
    denied = sorted({f"{d.request.action} on {d.request.resource}" for d in log.denied})
    assert (denied, log.unmapped) == ([], []), "\n".join([*denied, *log.unmapped])


def test_given_a_kettle_at_2400_w_for_3_minutes_when_processed_and_scheduled_then_sns_delivers_one_firing_and_one_resolved(  # noqa: E501
    stack: Stack, monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = subscribed_queue(stack, "kettle-left-on")
    t = T_KETTLE
    # 200 W, the kettle at 2,400 W from t to t+3 min, 200 W again; a sample every 10 s, 3 per batch.
    samples = steady(KETTLE_DEVICE, t - 5 * MIN, t + 8 * MIN, lambda ts: 2400.0 if t <= ts < t + 3 * MIN else 200.0)
    processor_role, scheduled_role = str(stack.applied["function_role_name"]), str(
        stack.applied["alerts_function_role_name"])

    # WHEN the processor has seen t+2 min (the first kettle minute judged: firing) and the schedule ticks
    with stack.role_runner.run_as_role(processor_role) as session:
        stack.process(session, KETTLE_DEVICE, [s for s in samples if s.ts_ms <= t + 2 * MIN])
    assert_allowed(session)
    with stack.role_runner.run_as_role(scheduled_role) as session:
        first = stack.tick(session, monkeypatch, t + 2 * MIN + 30_000)
    assert_allowed(session)
    # THEN exactly one "firing", started at t, with the value that crossed and the threshold
    [firing] = received(stack, queue)
    assert first["sent"] == 1 and first["errors"] == {}
    assert (firing["rule"], firing["kind"], firing["device_id"], firing["state"]) == (
        "kettle-left-on", "power_above", KETTLE_DEVICE, "firing")
    assert (firing["started_at_ms"], firing["value"], firing["threshold"], firing["unit"]) == (t, 2400.0, 2000.0, "W")
    assert firing["subject"] and "kettle-left-on" in firing["subject"]

    # WHEN the rest arrives (back under 1,800 W from t+3 min) and the schedule ticks, twice more after that
    with stack.role_runner.run_as_role(processor_role) as session:
        stack.process(session, KETTLE_DEVICE, [s for s in samples if s.ts_ms > t + 2 * MIN])
    assert_allowed(session)
    with stack.role_runner.run_as_role(scheduled_role) as session:
        reports = [stack.tick(session, monkeypatch, t + at) for at in (9 * MIN, 10 * MIN, 11 * MIN)]
    assert_allowed(session)
    # THEN one "resolved" with how long it lasted, and nothing more
    [resolved] = received(stack, queue)
    assert [r["sent"] for r in reports] == [1, 0, 0]
    assert (resolved["state"], resolved["started_at_ms"], resolved["ended_at_ms"], resolved["duration_s"]) == (
        "resolved", t, t + 3 * MIN, 180)
    assert received(stack, queue) == []
    # AND `energymon alerts history` over the deployed stack lists both, as locally
    out = energymon_cli(stack, "alerts", "history", "--device", KETTLE_DEVICE)
    rows = [line for line in out.splitlines() if "kettle-left-on" in line]
    assert [("firing" in r, "resolved" in r) for r in rows] == [(False, True), (True, False)], out
    listed = energymon_cli(stack, "alerts", "list")
    assert "meter-offline" in listed and "no_data" in listed, listed  # the deployed document's own rule
    # AND the hosted read API's /api/alerts (the app over the stack's read adapters) shows the same notifications
    from starlette.testclient import TestClient

    from energymon.runtimes.aws_read import open_aws_read

    app = open_aws_read(str(stack.applied["table_name"]), stack.bucket, session=_MotoSession(stack)).app()
    body = TestClient(app).get("/api/alerts", params={"device": KETTLE_DEVICE}).json()
    assert body["configured"] is True
    assert [(n["rule"], n["state"]) for n in body["recent"]] == [("kettle-left-on", "resolved"),
                                                                 ("kettle-left-on", "firing")], body


class _MotoSession:
    """What open_aws_read needs of a boto3 Session: clients on the moto server and a region."""

    def __init__(self, stack: Stack) -> None:
        self.moto = stack.moto
        self.region_name = stack.moto.region

    def client(self, service: str, **_: Any) -> Any:
        return self.moto.client(service)


def energymon_cli(stack: Stack, *args: str) -> str:
    """The real CLI against the stack (AWS_ENDPOINT_URL at the moto server), with its table and bucket."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": stack.moto.region,
            "AWS_ENDPOINT_URL": stack.moto.endpoint, "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "COLUMNS": "250"}
    result = subprocess.run([sys.executable, "-m", "energymon.runtimes.cli", *args, "--aws-table",
                             str(stack.applied["table_name"]), "--aws-bucket", stack.bucket],
                            capture_output=True, text=True, timeout=120, env=env, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_given_a_meter_gone_silent_when_the_schedule_ticks_then_no_data_fires_through_sns_with_no_message_arriving(
    stack: Stack, monkeypatch: pytest.MonkeyPatch,
) -> None:
    queue = subscribed_queue(stack, "meter-offline")
    t = T_SILENT
    with stack.role_runner.run_as_role(str(stack.applied["function_role_name"])) as session:
        stack.process(session, SILENT_DEVICE, steady(SILENT_DEVICE, t - 10 * MIN, t, lambda _ts: 300.0))
    assert_allowed(session)

    # WHEN the schedule ticks every minute after the last reading at t, and nothing arrives
    scheduled_role = str(stack.applied["alerts_function_role_name"])
    with stack.role_runner.run_as_role(scheduled_role) as session:
        reports = [stack.tick(session, monkeypatch, t + m * MIN) for m in range(1, 8)]
    assert_allowed(session)

    # THEN the tick at t+5 min (300 s of silence) fires once, started at the last reading, and nothing else
    assert [r["notifications"] for r in reports] == [[], [], [], [], [f"meter-offline/{SILENT_DEVICE}/{t}/firing"],
                                                     [], []]
    [firing] = received(stack, queue)
    assert (firing["rule"], firing["kind"], firing["device_id"], firing["state"], firing["started_at_ms"]) == (
        "meter-offline", "no_data", SILENT_DEVICE, "firing", t)

    # AND the scheduled role is exactly what the handler needs: every grant used by it (or by AWS for it)
    exercised = session.log.actions()
    must_reach = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:PutItem",
                  "dynamodb:DeleteItem", "dynamodb:UpdateItem", "s3:GetObject", "sns:Publish"}
    assert must_reach <= exercised, f"not exercised: {sorted(must_reach - exercised)}"
    unused = sorted(granted_actions(session.log.evaluator.statements) - exercised - set(SCHEDULED_GRANTS_FOR_AWS))
    assert unused == [], f"granted but never used: {unused} — remove them from modules/alerts/iam.tf"
    publishes = {d.request.resource for d in session.log.decisions if d.request.action == "sns:Publish"}
    assert publishes == {stack.topic_arn}

