"""The AWS deployment proven end to end on what `terraform apply` created on a moto server.

GIVEN the session's applied stack (conftest.applied_stack: one apply, destroyed at session end and
checked gone there), the local runtime's parts take the place of what moto cannot run:

* the bridge (the IoT topic rule's twin) writes into Terraform's Kinesis stream;
* the ShardPoller (the event source mapping's twin) runs with the batch settings read back from
  Terraform's mapping (GetEventSourceMapping) and calls the handler built from the Lambda's own
  environment (GetFunctionConfiguration);
* the handler writes Terraform's DynamoDB table and S3 bucket.

Readings go in through a real MQTT client and a real broker; what comes out is read back through
the same adapters the query side uses.
"""

from __future__ import annotations

import gzip
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
import orjson
import paho.mqtt.client as mqtt
import pytest

from energymon.adapters.aws.kinesis_stream import KinesisStream
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.poller import EventSourceMapping, Poller, ShardPoller
from energymon.adapters.mqtt.bridge import Bridge
from energymon.domain.reading import Reading, encode_message, telemetry_topic
from energymon.runtimes import lambda_handler

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from energymon.adapters.mqtt.client import BrokerAddress

    from .conftest import AppliedStack, MotoServer

pytestmark = pytest.mark.integration

DEVICES = ("apt-12", "apt-14", "apt-21", "apt-33")
READINGS_PER_DEVICE = 120  # every 10 s: 20 minutes per device, 480 readings in all
SAMPLES_PER_MESSAGE = 4  # 120 messages: one full batch of 100 and a remainder the window releases
STEP_MS = 10_000


def mapping_from_aws(config: dict[str, Any]) -> EventSourceMapping:
    """EventSourceMapping from a GetEventSourceMapping response.

    AWS's -1 means "unbounded" for MaximumRetryAttempts and MaximumRecordAgeInSeconds, which is what
    the poller's -1 means too; an absent value is AWS's Kinesis default (-1 / -1, window 0, no bisect).
    """
    retries = config.get("MaximumRetryAttempts")
    age = config.get("MaximumRecordAgeInSeconds")
    return EventSourceMapping(
        batch_size=int(config.get("BatchSize", 100)),
        batching_window_s=float(config.get("MaximumBatchingWindowInSeconds") or 0),
        bisect_on_error=bool(config.get("BisectBatchOnFunctionError", False)),
        max_retry_attempts=-1 if retries is None or retries < 0 else int(retries),
        max_record_age_s=-1 if age is None or age < 0 else float(age),
        stream_arn=config["EventSourceArn"],
    )


def test_given_aws_mapping_values_then_minus_one_and_absent_mean_unbounded_as_on_aws() -> None:
    unbounded = mapping_from_aws(
        {"EventSourceArn": "arn:s", "BatchSize": 10, "MaximumRetryAttempts": -1, "MaximumRecordAgeInSeconds": -1}
    )
    assert (unbounded.max_retry_attempts, unbounded.max_record_age_s) == (-1, -1)
    assert (unbounded.batching_window_s, unbounded.bisect_on_error) == (0.0, False)
    assert mapping_from_aws({"EventSourceArn": "arn:s"}).max_record_age_s == -1
    bounded = mapping_from_aws({"EventSourceArn": "arn:s", "MaximumRetryAttempts": 0, "MaximumRecordAgeInSeconds": 60})
    assert (bounded.max_retry_attempts, bounded.max_record_age_s) == (0, 60.0)


@dataclass(frozen=True)
class MotoSession:
    """What lambda_handler.build needs of a boto3 Session, with every client aimed at the moto server."""

    moto: MotoServer

    def client(self, service: str, **kwargs: Any) -> Any:
        return boto3.session.Session(
            region_name=self.moto.region, aws_access_key_id="testing", aws_secret_access_key="testing"
        ).client(service, endpoint_url=self.moto.endpoint, **kwargs)


def readings_of(device: str, index: int, t0_ms: int) -> list[Reading]:
    """A counter rising by whole Wh (1-4 per 10 s, power to match): each device's kWh is exact."""
    counter = 2_000_000.0 + 100_000 * index
    out = []
    for i in range(READINGS_PER_DEVICE):
        step_wh = (i * (index + 1)) % 4 + 1
        if i:
            counter += step_wh
        out.append(Reading(device, t0_ms + i * STEP_MS, step_wh * 360.0, counter))
    return out


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str,
               state: Callable[[], str] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}"
                                 + (f"; now {state()}" if state else ""))
        time.sleep(0.1)


def publish(address: BrokerAddress, messages: list[tuple[str, bytes]]) -> None:
    """A real device-side client: QoS 1, each publish acknowledged by the broker."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-devices", protocol=mqtt.MQTTv311)
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout=15)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


@contextmanager
def tls_only_policy_lifted(s3: Any, bucket: str) -> Iterator[None]:
    """moto 5.2 applies a bucket policy's Deny without evaluating its Condition (its put_bucket_policy
    docstring says so; getmoto/moto#5820), so Terraform's TLS-only statement (Deny s3:* when
    aws:SecureTransport is false) refuses every object call, over HTTP or HTTPS alike. Real S3 lets this
    pipeline's TLS requests through. The policy is lifted for the test and put back exactly, so the
    session's other assertions and `terraform destroy` see what Terraform created."""
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    s3.delete_bucket_policy(Bucket=bucket)
    try:
        yield
    finally:
        s3.put_bucket_policy(Bucket=bucket, Policy=policy)
        assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == policy


def snapshot(adapters: lambda_handler.AwsAdapters, s3: Any, bucket: str, lo: int, hi: int, tz: str) -> Any:
    store = adapters.store
    periods = {
        (device, res): store.periods(device, res, lo, hi, tz) for device in DEVICES for res in ("minute", "hour", "day")
    }
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            objects[obj["Key"]] = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
    return periods, store.devices(), objects


def test_given_the_applied_stack_when_devices_publish_through_the_bridge_and_the_poller_runs_the_lambda_then_table_and_bucket_hold_every_reading(  # noqa: E501
    applied_stack: AppliedStack, mosquitto: Any
) -> None:
    # Mosquitto, not amqtt: amqtt drops a QoS 1 message the bridge has not acknowledged within 5 s, and the
    # bridge acknowledges only once moto's Kinesis has the record (slow on a busy machine).
    mosquitto.extra_config = "allow_anonymous true\nmax_queued_messages 0"
    broker = mosquitto.start()
    moto = applied_stack.moto
    session = MotoSession(moto)
    stream_name = str(applied_stack["stream_name"])
    table = str(applied_stack["table_name"])
    bucket = str(applied_stack["archive_bucket_name"])
    lambda_ = session.client("lambda")

    # GIVEN the mapping and the function Terraform created, read back from the (emulated) service.
    esm = lambda_.get_event_source_mapping(UUID=str(applied_stack["event_source_mapping_uuid"]))
    assert esm["EventSourceArn"] == applied_stack["stream_arn"]
    mapping = mapping_from_aws(esm)
    assert (mapping.batch_size, mapping.batching_window_s, mapping.bisect_on_error) == (100, 10.0, True)
    assert mapping.max_retry_attempts == esm["MaximumRetryAttempts"] >= 0
    assert mapping.max_record_age_s == esm["MaximumRecordAgeInSeconds"] >= 60
    function = lambda_.get_function_configuration(FunctionName=esm["FunctionArn"])
    env = function["Environment"]["Variables"]
    assert env["ENERGYMON_TABLE_NAME"] == table and env["ENERGYMON_ARCHIVE_BUCKET"] == bucket
    s3 = session.client("s3")
    with tls_only_policy_lifted(s3, bucket):
        # The cold start reads the settings document Terraform wrote (and checks its hash).
        adapters = lambda_handler.build(env, session=session)
        run_and_check(session, stream_name, table, bucket, mapping, adapters, broker)
    # Terraform's destroy of this table, bucket and stream is asserted by conftest.applied_stack's teardown.


def run_and_check(
    session: MotoSession,
    stream_name: str,
    table: str,
    bucket: str,
    mapping: EventSourceMapping,
    adapters: lambda_handler.AwsAdapters,
    amqtt_broker: BrokerAddress,
) -> None:

    # WHEN devices publish canonical v1 messages (plus one malformed, one spoofed) through the bridge
    # into Terraform's stream. Readings are 3 h old, inside one UTC date and one local hour.
    t0 = (int(time.time() * 1000) - 3 * 3_600_000) // 3_600_000 * 3_600_000
    published = {device: readings_of(device, i, t0) for i, device in enumerate(DEVICES)}
    messages = []
    for device, readings in published.items():
        for seq, start in enumerate(range(0, READINGS_PER_DEVICE, SAMPLES_PER_MESSAGE)):
            messages.append((telemetry_topic(device), encode_message(device, seq, readings[start : start + 4])))
    malformed = (telemetry_topic("apt-12"), b'{"v": 1, "device_id": "apt-12", "samples": [')
    spoofed = (telemetry_topic("apt-14"), encode_message("apt-12", 999, published["apt-12"][:1]))
    messages[len(messages) // 2 : len(messages) // 2] = [malformed, spoofed]

    kinesis = session.client("kinesis")
    dynamodb = session.client("dynamodb")
    bridge_stream = KinesisStream(stream_name, table, client=kinesis, dynamodb_client=dynamodb)
    bridge_metrics = PrometheusMetrics()
    bridge = Bridge(amqtt_broker, bridge_stream, adapters.dead_letters, bridge_metrics)
    published_at = time.time()
    bridge.start()
    try:
        publish(amqtt_broker, messages)
        wait_until(
            lambda: bridge.messages == len(messages) - 2 and adapters.dead_letters.count() == 2,
            60,  # moto's Kinesis and S3 on a busy 2-core machine; the counts are in the message if it times out
            f"the bridge to store every message (expected {len(messages) - 2} stored and 2 dead letters)",
            lambda: f"{bridge.messages} stored, {adapters.dead_letters.count()} dead letters",
        )
    finally:
        bridge.stop()

    reader = KinesisStream(
        stream_name, table, client=session.client("kinesis"), dynamodb_client=session.client("dynamodb")
    )
    shards = reader.shard_ids()
    in_stream = [r for shard in shards for r in reader.get_records(shard, None, 10_000)]
    assert len(in_stream) == len(messages) - 2
    # Arrival times are epoch seconds of the wall clock: the poller's max_record_age judges real ages.
    assert all(published_at - 5 <= r.arrival_s <= time.time() + 5 for r in in_stream)

    # AND the poller runs each of Terraform's shards through the Lambda's handler until nothing is left.
    poller_metrics = PrometheusMetrics()
    pollers = [
        ShardPoller(bridge_stream, shard, adapters.processor.handle, mapping, adapters.dead_letters, poller_metrics)
        for shard in shards
    ]
    poller = Poller(pollers)
    poller.start()
    try:
        wait_until(lambda: reader.lag("processor") == 0, 45, "the poller to reach the end of every shard")
    finally:
        poller.stop(drain=False)

    # THEN the table holds every published kWh, per minute and in the hour/day rollups of the device's zone.
    lo, hi = t0, t0 + 3_600_000
    for device, readings in published.items():
        expected_mwh = round((readings[-1].energy_wh - readings[0].energy_wh) * 1000)  # type: ignore[operator]
        tz = adapters.shared.zone_of(device)  # from the settings document (devices.<id>.timezone or the default)
        minutes = adapters.store.periods(device, "minute", lo, hi, tz)
        assert len(minutes) == READINGS_PER_DEVICE * STEP_MS // 60_000, device
        assert sum(m.samples for m in minutes) == READINGS_PER_DEVICE, device
        assert sum(round(m.import_kwh * 1e6) for m in minutes) == expected_mwh, device
        for resolution in ("hour", "day"):
            (period,) = adapters.store.periods(device, resolution, lo, hi, tz)
            assert round(period.import_kwh * 1e6) == expected_mwh, (device, resolution)
            assert period.samples == READINGS_PER_DEVICE, (device, resolution)
    # Other tests on the same session-wide stack write their own devices: judge this test's devices only.
    summaries = {d.device_id: d for d in adapters.store.devices() if d.device_id in DEVICES}
    assert {d: s.readings for d, s in summaries.items()} == dict.fromkeys(DEVICES, READINGS_PER_DEVICE)
    assert all(summaries[d].last_ts_ms == published[d][-1].ts_ms for d in DEVICES)

    # AND the bucket holds every reading as gzip NDJSON under raw/date=.../ (one object per batch and date)
    s3 = session.client("s3")
    date = datetime.fromtimestamp(t0 / 1000, UTC).strftime("%Y-%m-%d")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="raw/")["Contents"]]
    batches = {k: [orjson.loads(line) for line in gzip.decompress(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
                   .splitlines()] for k in keys}
    # Other tests on the session-wide stack archive their own devices: judge the objects holding this test's.
    ours = {k: rows for k, rows in batches.items() if any(row["device_id"] in DEVICES for row in rows)}
    assert ours and all(k.startswith(f"raw/date={date}/") and k.endswith(".ndjson.gz") for k in ours)
    rows = [row for batch in ours.values() for row in batch]
    for device, readings in published.items():
        assert sorted((row["ts"], row["energy_wh"]) for row in rows if row["device_id"] == device) == [
            (r.to_dict()["ts"], r.energy_wh) for r in readings
        ]

    # AND the bridge dead-lettered exactly the malformed and the spoofed message, with readable reasons,
    # under rejected/ in Terraform's bucket; the poller gave up on nothing.
    letters = sorted(adapters.dead_letters.recent(10), key=lambda dl: dl.code)
    assert [(dl.stage, dl.code, dl.source) for dl in letters] == [
        ("bridge", "not_json", malformed[0]),
        ("bridge", "spoofed", spoofed[0]),
    ]
    assert letters[0].reason.startswith("payload is not JSON") and letters[0].payload == malformed[1]
    assert letters[1].reason == "device_id 'apt-12' does not match the topic's device 'apt-14'"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="rejected/")["KeyCount"] >= 1
    assert bridge_metrics.total("readings_rejected") == 2
    assert poller_metrics.total("poller_dead_lettered") == 0

    # AND a replay of the whole stream from TRIM_HORIZON (a new consumer, same mapping) changes nothing.
    before = snapshot(adapters, s3, bucket, lo, hi, adapters.shared.timezone)
    for shard in shards:
        ShardPoller(
            reader, shard, adapters.processor.handle, mapping, adapters.dead_letters, poller_metrics, consumer="replay"
        ).drain()
    assert reader.lag("replay") == 0
    assert snapshot(adapters, s3, bucket, lo, hi, adapters.shared.timezone) == before
