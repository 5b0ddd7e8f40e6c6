"""Cost profiles, measured: DynamoDB units, S3 PUTs, SQS requests and log bytes per reading, fleet vs lean.

Run: ``python -m benchmarks --only cost`` (or ``python -m benchmarks.bench_cost_profiles [minutes]``). One simulated
home at 1 Hz for ``minutes`` simulated minutes (default 30), one MQTT message per 10 s, through the Lambda handler
as its composition root builds it (``lambda_handler.build``) against a moto server over HTTP:

* ``fleet``: each message as the Kinesis record the topic rule writes, one 10 s batch per invocation;
* ``lean``: each message sent to a real (moto) SQS queue, received and deleted as the event source mapping does,
  handed to the handler as the SQS event — when this tree has the SQS event shape; otherwise the Kinesis shape
  (the handler's writes do not depend on the buffer) and the report says so.

Every request the handler makes is counted by a botocore hook. Read units are computed from the items each read
returns (eventually consistent: 0.5 per started 4 KB of a Query's items); write units by the store from item sizes
(DynamoDB's rules; moto's own ConsumedCapacity is not size-aware). The lean archive is written once per N minutes
by a scheduled function: when this tree has none, the per-batch PUTs are measured and the deferred count is
computed (one object per interval window the readings fall in) and labelled as computed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import math
import os
import sys
import time
import uuid
from collections import Counter
from typing import Any

import boto3

from benchmarks.bench_read_api import _moto
from energymon.adapters.aws._dynamodb import item_size
from energymon.adapters.aws.settings_object import publish_shared_settings
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.mqtt.bridge import canonical_to_record
from energymon.deploy.bill import Deployment
from energymon.domain.reading import encode_message, telemetry_topic
from energymon.domain.simulation import Apartment
from energymon.ports import StreamRecord
from energymon.runtimes import lambda_handler
from energymon.shared_settings import SharedSettings

DEVICE = "apt-12"
ZONE = "Europe/Berlin"
MESSAGE_S = 10
# Lambda's own lines per invocation (START ~70 B, END ~45 B, REPORT ~200 B) and its prefix per log line.
PLATFORM_LOG_BYTES = 315
# Minutes of readings handled before the measured window (not counted): the window starts 75 minutes into the
# data, as in a table that has been running, so reads that return the hours before it are measured at their size.
WARM_UP_MIN = 75
LOG_LINE_PREFIX_BYTES = 60
HAS_SQS_SHAPE = importlib.util.find_spec("energymon.adapters.aws.sqs_event") is not None


class Requests:
    """Counts every AWS call of the clients made from one session, and the read units its reads consume."""

    def __init__(self, session: boto3.session.Session) -> None:
        self.calls: Counter[str] = Counter()
        self.read_units_by_operation: Counter[str] = Counter()
        # The API parameters (ConsistentRead) are seen before they are serialised: "before-call" gets the
        # serialised request, where the flag is inside the body.
        session.events.register("before-parameter-build", self._before)
        session.events.register("after-call", self._after)

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_consistent"] = _consistent(params)

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], event_name: str, **_: Any) -> None:
        service = event_name.split(".")[1]
        self.calls[f"{service}.{model.name}"] += 1
        if service != "dynamodb":
            return
        factor = 1.0 if context.get("bench_consistent") else 0.5
        units = 0.0
        if model.name == "Query":
            units = factor * max(1, math.ceil(sum(item_size(i) for i in parsed.get("Items", [])) / 4096))
        elif model.name == "GetItem":
            units = factor * max(1, math.ceil(item_size(parsed.get("Item", {})) / 4096))
        elif model.name == "BatchGetItem":
            items = [i for rows in parsed.get("Responses", {}).values() for i in rows]
            units = factor * sum(max(1, math.ceil(item_size(i) / 4096)) for i in items)
        self.read_units_by_operation[model.name] += units

    @property
    def read_units(self) -> float:
        return sum(self.read_units_by_operation.values())

    def reset(self) -> None:
        self.calls.clear()
        self.read_units_by_operation.clear()


def _consistent(params: dict[str, Any]) -> bool:
    """Whether a read is strongly consistent (billed at 1 unit per 4 KB instead of 0.5)."""
    if "RequestItems" in params:  # BatchGetItem: one flag per table
        return any(isinstance(t, dict) and bool(t.get("ConsistentRead")) for t in params["RequestItems"].values())
    return bool(params.get("ConsistentRead"))


class LogBytes(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.bytes = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.bytes += LOG_LINE_PREFIX_BYTES + len(self.format(record).encode())


def _stack(url: str, profile: str) -> tuple[boto3.session.Session, dict[str, str], str | None]:
    suffix = f"{profile}-{uuid.uuid4().hex[:8]}"
    admin = boto3.session.Session(region_name="us-east-1")
    ddb = admin.client("dynamodb", endpoint_url=url)
    ddb.create_table(TableName=f"t-{suffix}", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    s3 = admin.client("s3", endpoint_url=url)
    s3.create_bucket(Bucket=f"b-{suffix}")
    topic = admin.client("sns", endpoint_url=url).create_topic(Name=f"a-{suffix}")["TopicArn"]
    queue = admin.client("sqs", endpoint_url=url).create_queue(QueueName=f"q-{suffix}")["QueueUrl"] \
        if profile == "lean" else None
    key, digest = publish_shared_settings(s3, f"b-{suffix}", SharedSettings(timezone=ZONE))
    env = {"ENERGYMON_TABLE_NAME": f"t-{suffix}", "ENERGYMON_ARCHIVE_BUCKET": f"b-{suffix}",
           "ENERGYMON_ALERT_TOPIC_ARN": topic, "ENERGYMON_SETTINGS_KEY": key, "ENERGYMON_SETTINGS_SHA256": digest,
           "POWERTOOLS_SERVICE_NAME": "energymon", "POWERTOOLS_METRICS_NAMESPACE": "energymon",
           "POWERTOOLS_LOG_LEVEL": "INFO"}
    return boto3.session.Session(region_name="us-east-1"), env, queue


def _messages(minutes: int, warm_up: int = WARM_UP_MIN) -> tuple[list[tuple[str, bytes]], list[int], list[tuple[str, bytes]]]:
    """The measured window's messages and reading times, and the warm-up's messages before them: a table in
    steady state holds the hours before the window, which the handler's reads return too."""
    # Yesterday evening, UTC (busy appliances; the handler refuses readings weeks older than their arrival).
    t0 = (int(time.time()) // 86_400 - 1) * 86_400_000 + 18 * 3_600_000
    readings = list(Apartment(DEVICE, 42, ZONE).samples(t0, (warm_up + minutes) * 60))
    messages = [canonical_to_record(telemetry_topic(DEVICE), encode_message(DEVICE, n, readings[i : i + MESSAGE_S]))
                for n, i in enumerate(range(0, len(readings), MESSAGE_S))]
    cut = warm_up * 60 // MESSAGE_S
    return messages[cut:], [r.ts_ms for r in readings[warm_up * 60:]], messages[:cut]


def run_profile(url: str, profile: str, minutes: int, per_batch: int = 1,
                archive_interval_min: float = 60.0) -> dict[str, Any]:
    """``per_batch``: MQTT messages (10 s each) per handler invocation."""
    session, env, queue_url = _stack(url, profile)
    handler_calls = Requests(session)
    adapters = lambda_handler.build(env, session=session)
    messages, stamps, warm_up = _messages(minutes)
    for first in range(0, len(warm_up), 30):
        event = kinesis_event([StreamRecord("shardId-000000000000", str(first + i + 1), key, data, 0.0)
                               for i, (key, data) in enumerate(warm_up[first : first + 30])], "arn")
        with contextlib.redirect_stdout(io.StringIO()) as out:
            failures = adapters.processor.handle(event)["batchItemFailures"]
        assert failures == [], (failures, out.getvalue()[-2000:])
    adapters.store.estimated_write_units = 0
    handler_calls.reset()  # neither the cold start's settings read nor the warm-up is per reading
    buffer_session = boto3.session.Session(region_name="us-east-1")
    buffer_calls = Requests(buffer_session)  # the IoT rule's and the event source mapping's calls
    sqs = buffer_session.client("sqs", endpoint_url=url)
    shape = "sqs" if profile == "lean" and HAS_SQS_SHAPE else "kinesis"
    logs = LogBytes()
    logging.getLogger("energymon").addHandler(logs)
    printed = io.StringIO()
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(printed):
            for first in range(0, len(messages), per_batch):
                group = messages[first : first + per_batch]
                if shape == "kinesis":
                    event = kinesis_event([StreamRecord("shardId-000000000000", str(len(warm_up) + first + i + 1), key,
                                                        data, 0.0)
                                           for i, (key, data) in enumerate(group)], "arn")
                    assert adapters.processor.handle(event)["batchItemFailures"] == []
                    continue
                from energymon.adapters.aws.sqs_event import sqs_event  # type: ignore[import-not-found, unused-ignore]

                for _, data in group:
                    sqs.send_message(QueueUrl=queue_url, MessageBody=data.decode())
                batch: list[dict[str, Any]] = []
                while len(batch) < len(group):  # the mapping gathers the window's messages, 10 per receive at most
                    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])
                    batch += got.get("Messages", [])
                event = sqs_event(batch, "arn:aws:sqs:us-east-1:123456789012:q")
                assert adapters.processor.handle(event)["batchItemFailures"] == []
                for i in range(0, len(batch), 10):
                    sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                        {"Id": str(j), "ReceiptHandle": m["ReceiptHandle"]} for j, m in enumerate(batch[i : i + 10])])
    finally:
        logging.getLogger("energymon").removeHandler(logs)
    elapsed = time.perf_counter() - started
    readings = len(stamps)
    batches = math.ceil(len(messages) / per_batch)
    store = adapters.store
    puts = handler_calls.calls["s3.PutObject"]
    windows = {(ts // int(archive_interval_min * 60_000), ts // 86_400_000) for ts in stamps}
    figures: dict[str, Any] = {
        "profile": profile, "event_shape": shape, "readings": readings, "batches": batches,
        "window_s": per_batch * MESSAGE_S, "wcu_per_batch": store.estimated_write_units / batches,
        "wcu_per_reading": store.estimated_write_units / readings,
        "rcu_per_batch": handler_calls.read_units / batches,
        "s3_puts_per_reading_per_batch_archive": puts / readings,
        "log_bytes_per_invocation": PLATFORM_LOG_BYTES + (len(printed.getvalue().encode()) + logs.bytes) / batches,
        "handler_ms_per_batch_moto": elapsed / batches * 1000,
        "dynamodb_calls_per_batch": {k.split(".", 1)[1]: v / batches
                                     for k, v in sorted(handler_calls.calls.items()) if k.startswith("dynamodb.")},
        "rcu_per_batch_by_operation": {k: v / batches
                                       for k, v in sorted(handler_calls.read_units_by_operation.items()) if v},
    }
    if profile == "lean":
        figures["archive_interval_min"] = archive_interval_min
        figures["s3_puts_deferred"] = len(windows)
        figures["s3_puts_per_reading_deferred"] = len(windows) / readings
        figures["sqs_requests_per_reading"] = sum(v for k, v in buffer_calls.calls.items()
                                                  if k.startswith("sqs.")) / readings
    return figures


def _print(rows: list[dict[str, Any]], model: Deployment) -> None:
    print(f"{'profile':8} {'shape':8} {'batch':>5} {'readings':>8} {'WCU/rdg':>8} {'WCU/batch':>9} {'RCU/batch':>9} "
          f"{'S3 PUT/rdg':>11} {'log B/inv':>9} {'ms/batch':>8}")
    for r in rows:
        print(f"{r['profile']:8} {r['event_shape']:8} {r['window_s']:>4}s {r['readings']:>8} "
              f"{r['wcu_per_reading']:>8.3f} {r['wcu_per_batch']:>9.2f} "
              f"{r['rcu_per_batch']:>9.2f} {r['s3_puts_per_reading_per_batch_archive']:>11.4f} "
              f"{r['log_bytes_per_invocation']:>9.0f} {r['handler_ms_per_batch_moto']:>8.1f}")
    for r in rows:
        calls = ", ".join(f"{k} {v:.2f}" for k, v in r["dynamodb_calls_per_batch"].items())
        units = ", ".join(f"{k} {v:.2f}" for k, v in r["rcu_per_batch_by_operation"].items())
        print(f"  {r['profile']} {r['window_s']}s: DynamoDB calls per batch: {calls}; read units per batch: {units}")
        if r["profile"] == "lean":
            print(f"  lean {r['window_s']}s: SQS requests per reading (send + receive + delete, idle polls not included): "
                  f"{r['sqs_requests_per_reading']:.3f}")
            print(f"  lean {r['window_s']}s: archive once per {r['archive_interval_min']:g} min (computed, no scheduled archive in "
                  f"this run): {r['s3_puts_deferred']} PUTs = {r['s3_puts_per_reading_deferred']:.5f} per reading "
                  f"(per-batch archive measured: {r['s3_puts_per_reading_per_batch_archive']:.4f})")
    if not HAS_SQS_SHAPE:
        print("  note: this tree has no SQS event shape: the lean run used Kinesis-shaped events")
    print(f"  the bill model assumes per device-batch: {model.wcu_per_device_batch} WCU + {model.wcu_per_reading_in_batch}"
          f" per reading, {model.rcu_per_device_batch} RCU + {model.rcu_per_reading_in_batch} per reading; "
          f"{model.log_bytes_per_invocation:.0f} log bytes per invocation")


def main(minutes: int = 30) -> list[dict[str, Any]]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    proc, url = _moto()
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = url  # the handler's own clients (lambda_handler.build) find moto by this
    try:
        # lean, 10 s: five pollers each gathering their own batch on a quiet queue (aws-cdk#14826) give about one
        # message per invocation; lean, 60 s: what one batch per 60 s window (the lean example's setting) gives.
        rows = [run_profile(url, "fleet", minutes), run_profile(url, "lean", minutes),
                run_profile(url, "lean", minutes, per_batch=6)]
    finally:
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
        proc.terminate()
        proc.wait(10)
    print(f"Cost profiles: one home at 1 Hz, {minutes} simulated minutes, {MESSAGE_S} s per message, "
          f"the Lambda handler on a moto server")
    _print(rows, Deployment())
    return rows


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
