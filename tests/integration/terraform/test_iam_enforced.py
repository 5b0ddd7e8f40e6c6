"""The processor Lambda's role, as Terraform created it, is enough for every AWS call the handler makes
and grants nothing else.

GIVEN the session's applied stack, the real handler (lambda_handler.build + Processor.handle) runs with
the role's STS credentials while moto's IAM enforcement is on, and every call it makes is evaluated
against the role's policy (roles.RoleRunner; iam_check explains what moto itself cannot judge). The
batches drive every AWS path the handler has: a device's first write, batches that close hours
(TransactWriteItems with Put), a time-zone change that empties a closed hour (a Delete inside the
transaction, which IAM authorizes as dynamodb:DeleteItem), late data (BatchGetItem of stored hours), the
archive and the dead letters in S3, and the EMF metrics (stdout, no AWS call).

The lean stack's processor role (examples/single-home-lean: SQS buffer, AWS managed keys) gets the same
proof: the same batches as SQS events, received from and deleted on Terraform's queue with the role's own
credentials, as the SQS event source mapping does with it.
"""

from __future__ import annotations

import base64
import time
from typing import TYPE_CHECKING, Any

import boto3
import orjson
import pytest

from energymon.adapters.aws.settings_object import publish_shared_settings
from energymon.adapters.aws.sqs_event import sqs_event
from energymon.domain.reading import Reading, encode_message
from energymon.runtimes import lambda_handler
from energymon.shared_settings import SharedSettings

from .iam_check import Request
from .test_pipeline_on_terraform import tls_only_policy_lifted

if TYPE_CHECKING:
    from collections.abc import Callable

    from .conftest import AppliedStack
    from .roles import RoleRunner, RoleSession

pytestmark = pytest.mark.integration

DEVICE = "iam-probe-1"  # this test's own device: removed again at the end, so other tests never see it
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

#: Granted actions no handler code calls, each with who does call it. Anything granted and neither
#: exercised by the handler here nor listed fails the test: remove the grant, or say here who needs it.
CALLED_BY_AWS_NOT_BY_THE_CODE = {
    # The event source mapping reads the stream with the function's role (Lambda developer guide,
    # "Process Amazon Kinesis Data Streams records with Lambda": DescribeStream, DescribeStreamSummary,
    # GetRecords, GetShardIterator, ListShards).
    "kinesis:DescribeStream": "event source mapping",
    "kinesis:DescribeStreamSummary": "event source mapping",
    "kinesis:GetRecords": "event source mapping",
    "kinesis:GetShardIterator": "event source mapping",
    "kinesis:ListShards": "event source mapping",
    "sqs:SendMessage": "event source mapping's on-failure destination",
    "logs:CreateLogStream": "Lambda runtime (function logs)",
    "logs:PutLogEvents": "Lambda runtime (function logs)",
    "kms:Decrypt": "Kinesis/SQS/Lambda env/S3 server-side on the role's behalf",
    "kms:GenerateDataKey": "SQS/SNS/S3 server-side encryption on the role's behalf",
    "s3:GetObject": "the shared settings document config/settings.json, read at cold start (helper A)",
    "sns:Publish": "alert notifications (SNS channel of the alerts work)",
}


def kinesis_event(payloads: list[bytes], first_seq: int) -> dict[str, Any]:
    """A Lambda Kinesis event as the event source mapping delivers it (FACTS.md: event record shape)."""
    records = []
    for i, payload in enumerate(payloads):
        seq = f"{first_seq + i:056d}"
        records.append({
            "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": DEVICE, "sequenceNumber": seq,
                        "data": base64.b64encode(payload).decode(), "approximateArrivalTimestamp": time.time()},
            "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"shardId-000000000000:{seq}",
            "eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::123456789012:role/x",
            "awsRegion": "eu-west-1", "eventSourceARN": "arn:aws:kinesis:eu-west-1:123456789012:stream/x",
        })
    return {"Records": records}


def batches(t0: int) -> list[tuple[str, str | None, list[bytes]]]:
    """(what it exercises, time zone override, payloads) in order; readings of one device, counter in Wh."""
    def message(seq: int, *readings: tuple[int, float]) -> bytes:
        return encode_message(DEVICE, seq, [Reading(DEVICE, t0 + at, 100.0, wh) for at, wh in readings])

    return [
        ("first write of a device (PutItem of the device item)", None,
         [message(1, (50 * MINUTE_MS, 1000.0), (52 * MINUTE_MS, 1001.0))]),
        ("the next hour closes the first (TransactWriteItems: Put hour + guarded Put device)", None,
         [message(2, (HOUR_MS + 10 * MINUTE_MS, 1010.0))]),
        ("a time-zone change empties a closed hour (TransactWriteItems: Delete)", "Asia/Kolkata",
         [message(3, (51 * MINUTE_MS, 1000.5))]),
        ("a silence, then late data inside it (BatchGetItem of stored hours)", "Asia/Kolkata",
         [message(4, (3 * HOUR_MS + 10 * MINUTE_MS, 1100.0)), message(5, (2 * HOUR_MS, 1050.0))]),
        ("a malformed record among good ones (dead letter to S3)", "Asia/Kolkata",
         [b'{"v": 1, "device_id": "' + DEVICE.encode() + b'", "samples": [', message(6, (3 * HOUR_MS + 11 * MINUTE_MS, 1101.0))]),
    ]


def probe_environments(env: dict[str, str], t0: int, admin_s3: Any) -> dict[str | None, dict[str, str]]:
    """The Lambda's environment per zone the batches use: a zone's runs on a settings document whose default zone
    is that one, published by the deployer (before IAM enforcement is on), as a redeploy with a new
    ``default_timezone`` would."""
    bucket = env["ENERGYMON_ARCHIVE_BUCKET"]
    deployed = orjson.loads(admin_s3.get_object(Bucket=bucket, Key=env["ENERGYMON_SETTINGS_KEY"])["Body"].read())
    out: dict[str | None, dict[str, str]] = {None: env}
    for tz in {tz for _, tz, _ in batches(t0) if tz}:
        shared = SharedSettings.from_document({**deployed, "timezone": tz}, "the probe's settings")
        key, sha = publish_shared_settings(admin_s3, bucket, shared, key=f"config/probe-{tz.replace('/', '-')}.json")
        out[tz] = {**env, "ENERGYMON_SETTINGS_KEY": key, "ENERGYMON_SETTINGS_SHA256": sha}
    return out


def run_handler(session: RoleSession, environments: dict[str | None, dict[str, str]], t0: int,
                event_of: Callable[[list[bytes], int], dict[str, Any]] = kinesis_event,
                after: Callable[[dict[str, Any], dict[str, Any]], None] | None = None) -> list[str]:
    """Every batch through a handler built from the Lambda's environment; the failures, one line each.
    ``event_of`` turns a batch's payloads into the event; ``after`` sees each event with its response."""
    problems = []
    seq = 1
    for what, tz, payloads in batches(t0):
        adapters = lambda_handler.build(environments[tz], session=session)  # a new container per configuration
        event = event_of(payloads, seq)
        response = adapters.processor.handle(event)
        seq += len(payloads)
        if response["batchItemFailures"]:
            problems.append(f"{what}: batchItemFailures {response['batchItemFailures']}")
        if after is not None:
            after(event, response)
    return problems


def remove_probe_data(moto: Any, table: str, bucket: str, keys_before: set[str]) -> None:
    ddb, s3 = moto.client("dynamodb"), moto.client("s3")
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            # its own items, its device-list entry and the scheduled archive's hour markers (sk = <hour>#<device>)
            if DEVICE in item["pk"]["S"] or item["sk"]["S"] == DEVICE or item["sk"]["S"].endswith(f"#{DEVICE}"):
                ddb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    # The bucket is versioned: delete the versions themselves, leaving no delete markers behind.
    new = object_keys(s3, bucket) - keys_before
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if version["Key"] in new:
                s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])


def object_keys(s3: Any, bucket: str) -> set[str]:
    return {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for o in page.get("Contents", [])}


def test_given_the_processor_role_when_the_handler_runs_every_aws_path_with_iam_enforced_then_nothing_is_denied_and_every_grant_is_used(  # noqa: E501
    applied_stack: AppliedStack, role_runner: RoleRunner
) -> None:
    moto = applied_stack.moto
    table, bucket = str(applied_stack["table_name"]), str(applied_stack["archive_bucket_name"])
    function = moto.client("lambda").get_function_configuration(FunctionName=str(applied_stack["function_name"]))
    env = function["Environment"]["Variables"]
    t0 = (int(time.time() * 1000) - 6 * HOUR_MS) // HOUR_MS * HOUR_MS
    s3 = moto.client("s3")
    keys_before = object_keys(s3, bucket)

    with tls_only_policy_lifted(s3, bucket):
        try:
            environments = probe_environments(env, t0, s3)
            with role_runner.run_as_role(str(applied_stack["function_role_name"])) as session:
                problems = run_handler(session, environments, t0)
        finally:
            remove_probe_data(moto, table, bucket, keys_before)
    log = session.log

    # THEN no call was refused, by the policy or by moto, and every call had an IAM mapping.
    denied = sorted({f"{d.request.action} on {d.request.resource}" for d in log.denied})
    assert (denied, log.unmapped, problems) == ([], [], []), "\n".join([*denied, *log.unmapped, *problems])

    # AND the batches reached every AWS path the handler has (else this test proves less than it says).
    exercised = log.actions()
    must_reach = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:BatchWriteItem",
                  "dynamodb:BatchGetItem", "dynamodb:DeleteItem", "s3:PutObject"}
    assert must_reach <= exercised, f"not exercised: {sorted(must_reach - exercised)}"
    assert Request("dynamodb:DeleteItem", table_arn(applied_stack, log)) in {d.request for d in log.decisions}
    written = {d.request.resource.split(":::", 1)[1].split("/", 2)[1] for d in log.decisions
               if d.request.action == "s3:PutObject"}
    assert written == {"raw", "rejected"}, written

    # AND the role grants nothing that neither the handler nor AWS on its behalf uses.
    granted = granted_actions(log.evaluator.statements)
    unused = sorted(granted - exercised - set(CALLED_BY_AWS_NOT_BY_THE_CODE))
    assert unused == [], f"granted but never used: {unused} — remove them from modules/processor/iam.tf"


def table_arn(applied_stack: AppliedStack, log: Any) -> str:
    return log.arns.table(str(applied_stack["table_name"]))


def granted_actions(statements: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for statement in statements:
        if statement["Effect"] == "Allow":
            actions = statement.get("Action", [])
            out.update([actions] if isinstance(actions, str) else actions)
    return out


#: What AWS calls with the lean processor role on its behalf: the SQS mapping's calls are made by the test itself
#: (as the mapping, with the role's credentials), so only the Lambda runtime's logs and the cold start remain.
LEAN_CALLED_BY_AWS_NOT_BY_THE_CODE = {
    "logs:CreateLogStream": "Lambda runtime (function logs)",
    "logs:PutLogEvents": "Lambda runtime (function logs)",
    "s3:GetObject": "the shared settings document config/settings.json, read at cold start",
    "sns:Publish": "alert notifications (SNS channel of the alerts work)",
}


class QueueAsTheMapping:
    """Each batch as the SQS event source mapping hands it over: the deployer's side puts the payloads on the
    queue (as the IoT rule would), the role receives them, the handler runs, the role deletes what succeeded."""

    def __init__(self, admin_sqs: Any, role_sqs: Any, queue_url: str, queue_arn: str) -> None:
        self.admin, self.role, self.url, self.arn = admin_sqs, role_sqs, queue_url, queue_arn

    def __call__(self, payloads: list[bytes], first_seq: int) -> dict[str, Any]:
        self.admin.send_message_batch(QueueUrl=self.url, Entries=[
            {"Id": str(i), "MessageBody": p.decode()} for i, p in enumerate(payloads)])
        self.role.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
        messages: list[dict[str, Any]] = []
        while len(messages) < len(payloads):
            got = self.role.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                            VisibilityTimeout=60).get("Messages", [])
            assert got, f"the queue returned {len(messages)} of {len(payloads)} messages"
            messages += got
        return sqs_event(messages, self.arn)

    def done(self, event: dict[str, Any], response: dict[str, Any]) -> None:
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for record in event["Records"]:
            if record["messageId"] not in failed:
                self.role.delete_message(QueueUrl=self.url, ReceiptHandle=record["receiptHandle"])


def test_given_the_lean_processor_role_when_the_handler_runs_every_aws_path_on_sqs_with_iam_enforced_then_nothing_is_denied_and_every_grant_is_used(  # noqa: E501
    lean_stack: AppliedStack, role_runner: RoleRunner
) -> None:
    moto = lean_stack.moto
    table, bucket = str(lean_stack["table_name"]), str(lean_stack["archive_bucket_name"])
    queue_url, queue_arn = str(lean_stack["queue_url"]), str(lean_stack["queue_arn"])
    function = moto.client("lambda").get_function_configuration(FunctionName=str(lean_stack["function_name"]))
    env = function["Environment"]["Variables"]
    t0 = (int(time.time() * 1000) - 6 * HOUR_MS) // HOUR_MS * HOUR_MS
    s3 = moto.client("s3")
    keys_before = object_keys(s3, bucket)

    with tls_only_policy_lifted(s3, bucket):
        try:
            environments = probe_environments(env, t0, s3)
            with role_runner.run_as_role(str(lean_stack["function_role_name"])) as session:
                # The IoT rule's side sends with the administrator's keys (enforcement is on for every request).
                admin_sqs = boto3.session.Session(region_name=moto.region, **session.admin_credentials).client(
                    "sqs", endpoint_url=moto.endpoint)
                mapping = QueueAsTheMapping(admin_sqs, session.client("sqs"), queue_url, queue_arn)
                problems = run_handler(session, environments, t0, mapping, mapping.done)
        finally:
            remove_probe_data(moto, table, bucket, keys_before)
    log = session.log

    # THEN no call was refused (the queue's calls by moto itself, with the role's keys), every call was mapped.
    denied = sorted({f"{d.request.action} on {d.request.resource}" for d in log.denied})
    assert (denied, log.unmapped, problems) == ([], [], []), "\n".join([*denied, *log.unmapped, *problems])
    # AND the batches reached every AWS path the handler and the mapping have.
    exercised = log.actions()
    must_reach = {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:BatchWriteItem",
                  "dynamodb:BatchGetItem", "dynamodb:DeleteItem", "s3:PutObject",
                  "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
    assert must_reach <= exercised, f"not exercised: {sorted(must_reach - exercised)}"
    assert {d.request.resource for d in log.decisions if d.request.action.startswith("sqs:")} == {queue_arn}
    # AND the role grants nothing unused: no stream, no on-failure SendMessage, no key (AWS managed keys).
    granted = granted_actions(log.evaluator.statements)
    assert not {a for a in granted if a.startswith(("kinesis:", "kms:"))} and "sqs:SendMessage" not in granted
    unused = sorted(granted - exercised - set(LEAN_CALLED_BY_AWS_NOT_BY_THE_CODE))
    assert unused == [], f"granted but never used: {unused} — remove them from modules/processor/iam.tf"
