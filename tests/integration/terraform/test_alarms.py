"""The alarms that catch a silent stop, read back from moto's CloudWatch after `terraform apply`.

moto never evaluates an alarm: what is proven here is that each alarm watches the metric, namespace and
dimensions AWS publishes, with the math and missing-data treatment meant — and that the DynamoDB throttle
alarm covers every operation the code really calls (recorded from a handler run and the query side on
moto, so a new operation without an alarm fails this test).
"""

from __future__ import annotations

import base64
import json
import time
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from energymon.adapters.mqtt.bridge import canonical_to_record
from energymon.domain.reading import Reading, encode_message, telemetry_topic
from energymon.runtimes import lambda_handler

from .conftest import MOTO_REGION, AppliedStack, MotoServer, Terraform
from .test_pipeline_on_terraform import tls_only_policy_lifted

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration


class _RecordingSession:
    """Clients on moto that note the name of every DynamoDB operation they send."""

    def __init__(self, endpoint: str) -> None:
        self.session = boto3.session.Session(region_name=MOTO_REGION, aws_access_key_id="testing",
                                             aws_secret_access_key="testing")
        self.endpoint = endpoint
        self.dynamodb_operations: set[str] = set()

    def client(self, service: str) -> Any:
        client = self.session.client(service, endpoint_url=self.endpoint)  # type: ignore[call-overload]
        if service == "dynamodb":
            client.meta.events.register("before-call.dynamodb",
                                        lambda model, **_: self.dynamodb_operations.add(model.name))
        return client


def _event(device: str, t0_ms: int, first: int, count: int) -> dict[str, Any]:
    readings = [Reading(device, t0_ms + i * 10_000, 400.0, 5_000.0 + i) for i in range(first, first + count)]
    records = []
    for n in range(0, count, 10):
        key, data = canonical_to_record(telemetry_topic(device), encode_message(device, first + n,
                                                                               readings[n : n + 10]))
        seq = f"{t0_ms}{first + n:06d}"
        records.append({"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": key, "sequenceNumber": seq,
                                    "data": base64.b64encode(data).decode(),
                                    "approximateArrivalTimestamp": time.time()},
                        "eventSource": "aws:kinesis", "eventID": f"shardId-000000000000:{seq}"})
    return {"Records": records}


def _operations_the_code_calls(stack: AppliedStack) -> set[str]:
    """Every DynamoDB operation of the handler (new device, an hour closing, overlapping readings), of the
    scheduled alert function (an incident firing, its delivery failing) and of the query side."""
    session = _RecordingSession(stack.moto.endpoint)
    device = f"alarm-probe-{int(time.time())}"
    now_ms = int(time.time() * 1000)
    t0 = now_ms - now_ms % 3_600_000 - 2 * 3_600_000
    table, bucket = str(stack["table_name"]), str(stack["archive_bucket_name"])
    lambda_ = stack.moto.client("lambda")
    scheduled_env = lambda_.get_function_configuration(
        FunctionName=str(stack["alerts_function_name"]))["Environment"]["Variables"]
    # A silent probe device, and a channel nobody listens on: the incident fires and its delivery fails.
    alerts = lambda_handler.alerts_from_document({"alerts": {
        "rules": [{"name": "probe-silent", "kind": "no_data", "device": device, "for_s": 60, "channels": ["down"]}],
        "channels": [{"name": "down", "kind": "webhook", "url": "http://127.0.0.1:9/down", "timeout_s": 1}]}})
    with tls_only_policy_lifted(stack.moto.client("s3"), bucket):
        adapters = lambda_handler.build(dict(stack["function_environment_variables"]),  # type: ignore[call-overload]
                                        session=session)
        # An hour, then readings in the next hour (closing the first: a transaction), then a replay of part of
        # the first hour (the existing-device path).
        for first in (0, 400, 10):
            assert adapters.processor.handle(_event(device, t0, first, 20))["batchItemFailures"] == []
        scheduled = lambda_handler.build_scheduled(scheduled_env, session=session, alerts=alerts)
        report = lambda_handler.run_scheduled(scheduled, time.time())
    assert report["failed"] == 1, report
    assert scheduled.evaluator is not None
    scheduled.evaluator.statuses()  # what `alerts list` reads
    scheduled.alerts.history(device)
    store = adapters.store
    for resolution in ("minute", "hour", "day", "month"):
        store.periods(device, resolution, t0, now_ms, "Europe/Berlin")
    store.devices()
    store.readings_around(device, t0, now_ms)
    store.energy_sums(device, [(t0, now_ms)])
    _remove_alert_items(stack.moto.client("dynamodb"), table)
    return session.dynamodb_operations


def _remove_alert_items(ddb: Any, table: str) -> None:
    """The probe's incident, history and outbox rows: later tests on the shared stack start without them."""
    for pk in ("ALERT#STATE", "ALERT#HISTORY", "ALERT#OUTBOX", "ALERT#DUE"):
        for page in ddb.get_paginator("query").paginate(TableName=table, KeyConditionExpression="pk = :pk",
                                                         ExpressionAttributeValues={":pk": {"S": pk}}):
            for item in page["Items"]:
                if "probe-silent" in item["sk"]["S"]:
                    ddb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})


def _alarms(stack_or_cloudwatch: Any, prefix: str) -> dict[str, dict[str, Any]]:
    alarms = stack_or_cloudwatch.describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    return {a["AlarmName"]: a for a in alarms}


def _queries(alarm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["Id"]: m for m in alarm.get("Metrics", [])}


def _metric(query: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    metric = query["MetricStat"]["Metric"]
    return metric["Namespace"], metric["MetricName"], {d["Name"]: d["Value"] for d in metric["Dimensions"]}


def test_given_the_applied_stack_then_the_throttle_alarm_sums_exactly_the_dynamodb_operations_the_code_calls(
    applied_stack: AppliedStack,
) -> None:
    called = _operations_the_code_calls(applied_stack)
    assert {"TransactWriteItems", "Query"} <= called, called  # the recording works

    cloudwatch = applied_stack.moto.client("cloudwatch")
    name = applied_stack["alarm_names"]["dynamodb_throttled_requests"]  # type: ignore[index]
    alarm = _alarms(cloudwatch, name)[name]
    queries = _queries(alarm)
    metrics = [_metric(q) for q in queries.values() if "MetricStat" in q]
    assert {(ns, m) for ns, m, _ in metrics} == {("AWS/DynamoDB", "ThrottledRequests")}
    assert {d["TableName"] for _, _, d in metrics} == {applied_stack["table_name"]}
    assert {d["Operation"] for _, _, d in metrics} == called, "every operation the code calls has a metric, no other"
    [total] = [q for q in queries.values() if q.get("ReturnData")]
    assert total["Expression"] == " + ".join(f"FILL({i}, 0)" for i in sorted(
        (q["Id"] for q in queries.values() if "MetricStat" in q), key=lambda i: int(i[1:])))


def test_given_the_applied_stack_then_records_without_invocations_raise_the_silent_stop_alarm(
    applied_stack: AppliedStack,
) -> None:
    cloudwatch = applied_stack.moto.client("cloudwatch")
    name = applied_stack["alarm_names"]["processor_silent_stop"]  # type: ignore[index]
    alarm = _alarms(cloudwatch, name)[name]
    queries = _queries(alarm)
    assert _metric(queries["incoming"]) == ("AWS/Kinesis", "IncomingRecords",
                                            {"StreamName": applied_stack["stream_name"]})
    assert _metric(queries["invocations"]) == ("AWS/Lambda", "Invocations",
                                               {"FunctionName": applied_stack["function_name"]})
    assert {queries[i]["MetricStat"]["Stat"] for i in ("incoming", "invocations")} == {"Sum"}
    # No Invocations datapoint = not invoked (FILL 0); no datapoint at all = idle stack = OK.
    assert queries["stalled"]["Expression"] == "IF(FILL(incoming, 0) > 0 AND FILL(invocations, 0) == 0, 1, 0)"
    assert queries["stalled"]["ReturnData"] is True
    assert (alarm["ComparisonOperator"], alarm["Threshold"], alarm["TreatMissingData"]) == (
        "GreaterThanThreshold", 0.0, "notBreaching")
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 2
    assert alarm["AlarmActions"] == alarm["OKActions"] == [applied_stack["alert_topic_arn"]]


MONITORING_ROOT = """
provider "aws" {{
  region                      = "{region}"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  max_retries                 = 1
  endpoints {{
    cloudwatch = "{endpoint}"
    sns        = "{endpoint}"
    sts        = "{endpoint}"
  }}
}}

module "monitoring" {{
  source = "../../modules/monitoring"

  name_prefix           = "alarmtest"
  alert_topic_name      = "alarmtest-alerts"
  kms_key_arn           = "arn:aws:kms:{region}:123456789012:key/00000000-0000-0000-0000-000000000000"
  function_name         = "alarmtest-processor"
  archiver_function_name = "alarmtest-archiver"
  stream_name           = "alarmtest-telemetry"
  table_name            = "alarmtest-readings"
  dlq_name              = "alarmtest-processor-dlq"
  create_iot_rule_alarm = true
  iot_topic_rule_name   = "alarmtest_telemetry_to_kinesis"
  create_dashboard      = false
}}

output "alarm_names" {{
  value = module.monitoring.alarm_names
}}
"""


@pytest.fixture(scope="module")
def monitoring_with_iot_alarms(terraform_plans: Terraform, moto_server: MotoServer) -> Iterator[dict[str, str]]:
    """GIVEN modules/monitoring alone applied to moto with the IoT rule alarms on (the moto example cannot
    manage the topic rule, so the whole stack has them off)."""
    root = "examples/_monitoring_iot_alarms"
    path = terraform_plans.root(root)
    path.mkdir(parents=True)
    (path / "main.tf").write_text(MONITORING_ROOT.format(region=MOTO_REGION, endpoint=moto_server.endpoint))
    terraform_plans.init(root)
    try:
        terraform_plans.run(root, "apply", "-auto-approve", "-no-color", timeout=300).check()
        raw = terraform_plans.run(root, "output", "-json", "-no-color").check().stdout
        yield json.loads(raw)["alarm_names"]["value"]
    finally:
        terraform_plans.run(root, "destroy", "-auto-approve", "-no-color", timeout=300).check()


def test_given_the_iot_rule_alarms_then_they_use_the_metrics_and_dimensions_iot_core_publishes(
    monitoring_with_iot_alarms: dict[str, str], moto_server: MotoServer
) -> None:
    alarms = _alarms(moto_server.client("cloudwatch"), "alarmtest-")
    by_key = {key: alarms[name] for key, name in monitoring_with_iot_alarms.items()}
    rule = "alarmtest_telemetry_to_kinesis"
    watched = {key: (a.get("Namespace"), a.get("MetricName"), {d["Name"]: d["Value"] for d in a.get("Dimensions", [])})
               for key, a in by_key.items() if key.startswith("iot_")}
    assert watched == {
        "iot_rule_failure": ("AWS/IoT", "Failure", {"RuleName": rule, "ActionType": "Kinesis"}),
        "iot_rule_parse_error": ("AWS/IoT", "ParseError", {"RuleName": rule}),
        "iot_rule_error_action_failure": ("AWS/IoT", "ErrorActionFailure", {"RuleName": rule, "ActionType": "S3"}),
    }
    for key in watched:
        alarm = by_key[key]
        assert (alarm["Statistic"], alarm["ComparisonOperator"], alarm["Threshold"], alarm["TreatMissingData"]) == (
            "Sum", "GreaterThanThreshold", 0.0, "notBreaching"), key
        assert alarm["AlarmActions"] and alarm["AlarmActions"][0].endswith(":alarmtest-alerts"), key
    # The alarms that were there before stay.
    assert {"lambda_errors", "lambda_throttles", "lambda_iterator_age", "dlq_messages_visible",
            "dynamodb_throttled_requests", "processor_silent_stop"} <= set(by_key)


def test_given_the_monitoring_module_applied_then_the_bill_prices_each_of_its_alarms_per_metric(
    monitoring_with_iot_alarms: dict[str, str], moto_server: MotoServer
) -> None:
    # GIVEN every alarm the fleet's monitoring module creates, as moto's CloudWatch holds them
    from energymon.deploy.bill import FLEET_ALARMS

    alarms = _alarms(moto_server.client("cloudwatch"), "alarmtest-")
    by_key = {key: alarms[name] for key, name in monitoring_with_iot_alarms.items()}
    # THEN the bill's fleet profile lists exactly these, with the metrics each one evaluates (CloudWatch bills
    # an alarm per metric: a metric-math alarm over 7 metrics is 7 alarm metrics)
    metrics = {key: sum(1 for q in _queries(a).values() if "MetricStat" in q) or 1 for key, a in by_key.items()}
    assert metrics == FLEET_ALARMS
