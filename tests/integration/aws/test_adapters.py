"""Each AWS adapter against a moto server over HTTP."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest

from energymon.adapters.aws.dynamodb_store import DynamoDBStore
from energymon.adapters.aws.emf_metrics import EmfMetrics
from energymon.adapters.aws.kinesis_stream import KinesisStream
from energymon.adapters.aws.s3_archive import S3Archive
from energymon.adapters.aws.s3_dead_letters import S3DeadLetters
from energymon.adapters.aws.sns_notifier import SnsNotifier
from energymon.adapters.local.archive import group_for_archive
from energymon.domain.energy import MinuteEnergy
from energymon.domain.reading import Reading
from energymon.ports import DeadLetter

pytestmark = pytest.mark.integration

T0 = 1_790_000_000_000 - 1_790_000_000_000 % 3_600_000


def test_given_readings_when_added_twice_then_stored_once_and_found_around(client: Any, table: str) -> None:
    store = DynamoDBStore(table, client=client("dynamodb"))
    readings = [Reading("apt-1", T0 + i * 1000, 400.0 + i, 1000.0 + i / 10) for i in range(90)]
    assert store.add_readings("apt-1", readings) == 90
    assert store.add_readings("apt-1", readings[:10]) == 0
    again = DynamoDBStore(table, client=client("dynamodb"))
    around = again.readings_around("apt-1", T0 + 30_000, T0 + 40_000)
    assert around == readings[29:42]
    assert again.readings_before("apt-1", T0 + 5000, 3) == readings[2:5]
    assert again.readings_after("apt-1", T0 + 85_000, 10) == readings[86:]
    [summary] = again.devices()
    assert (summary.device_id, summary.readings, summary.last_ts_ms) == ("apt-1", 90, readings[-1].ts_ms)
    assert summary.last_power_w == 489.0


def test_given_minutes_when_replaced_then_hours_days_follow_the_device_zone(client: Any, table: str) -> None:
    store = DynamoDBStore(table, client=client("dynamodb"))
    minutes = [MinuteEnergy(T0 + i * 60_000, 1000, 0, 500.0, 60) for i in range(150)]
    store.replace_minutes("apt-1", T0, T0 + 150 * 60_000, minutes, "Asia/Kolkata")
    hours = store.periods("apt-1", "hour", T0 - 3_600_000, T0 + 4 * 3_600_000, "Asia/Kolkata")
    # Kolkata is UTC+5:30: local hours start at :30 UTC, so 150 UTC minutes from :00 span 4 local hours.
    assert [h.samples // 60 for h in hours] == [30, 60, 60]
    assert sum(h.import_kwh for h in hours) == pytest.approx(0.15)
    days = store.periods("apt-1", "day", T0 - 86_400_000, T0 + 86_400_000, "Asia/Kolkata")
    assert sum(d.import_kwh for d in days) == pytest.approx(0.15)
    assert store.energy_sums("apt-1", [(T0, T0 + 60 * 60_000)]) == [60_000]
    # Replacing with fewer minutes removes the rest and the hours follow.
    store.replace_minutes("apt-1", T0, T0 + 150 * 60_000, minutes[:10], "Asia/Kolkata")
    hours = store.periods("apt-1", "hour", T0 - 3_600_000, T0 + 4 * 3_600_000, "Asia/Kolkata")
    assert sum(h.import_kwh for h in hours) == pytest.approx(0.01)
    assert len(store.periods("apt-1", "minute", T0, T0 + 3 * 3_600_000, "UTC")) == 10


def test_given_a_batch_when_archived_to_s3_then_keys_and_bodies_match_the_folder_archive(
    client: Any, bucket: str
) -> None:
    s3 = client("s3")
    readings = [Reading("apt-1", T0 + i * 1000, 400.0, 1000.0 + i) for i in range(5)]
    keys = S3Archive(bucket, client=s3).put_readings("shardId-000000000000-1-5", readings)
    expected = group_for_archive("shardId-000000000000-1-5", readings)
    assert keys == list(expected)
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    assert body == expected[keys[0]]
    assert len(gzip.decompress(body).splitlines()) == 5


def test_given_rejections_when_dead_lettered_then_kept_under_rejected_with_reasons(client: Any, bucket: str) -> None:
    s3 = client("s3")
    letters = S3DeadLetters(bucket, client=s3)
    letters.put([DeadLetter("processor", "not_json", "payload is not JSON", b"\xff{", "shard:1", at_s=1.79e9)])
    letters.put([DeadLetter("bridge", "spoofed", "device_id does not match", b"{}", "energy/x/telemetry",
                            at_s=1.79e9 + 5), DeadLetter("bridge", "schema", "bad", b"[]", "t", at_s=1.79e9 + 5)])
    assert letters.count() == 3
    recent = letters.recent(2)
    assert [r.code for r in recent] == ["schema", "spoofed"]
    assert letters.recent(10)[-1].payload == b"\xff{"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert all(k.startswith("rejected/date=") for k in keys)


def test_given_a_topic_when_notified_then_subscribers_get_the_alert(client: Any, topic: str) -> None:
    sns, sqs = client("sns"), client("sqs")
    queue_url = sqs.create_queue(QueueName=topic.rsplit(":", 1)[1])["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    SnsNotifier(topic, client=sns).notify("Power above 9 kW\nat apt-1 " + "x" * 200, "apt-1 draws 9.2 kW")
    [message] = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1)["Messages"]
    body = orjson.loads(message["Body"])
    assert body["Message"] == "apt-1 draws 9.2 kW"
    assert body["Subject"].startswith("Power above 9 kW at apt-1") and len(body["Subject"]) == 100


def test_given_counts_when_flushed_then_emf_lines_are_printed(capsys: pytest.CaptureFixture[str]) -> None:
    metrics = EmfMetrics("energymon", "processor")
    metrics.count("readings_processed", 10)
    metrics.count("readings_rejected", 1, reason="not_json")
    metrics.observe("batch_seconds", 0.02)
    metrics.flush()
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    names = {d["Name"] for line in lines for m in line["_aws"]["CloudWatchMetrics"] for d in m["Metrics"]}
    assert {"readings_processed", "readings_rejected", "batch_seconds"} <= names
    rejected = next(line for line in lines if "readings_rejected" in line)
    assert rejected["reason"] == "not_json"


def test_given_a_kinesis_stream_when_records_put_then_read_back_after_checkpoints(
    client: Any, stream: str, table: str
) -> None:
    kinesis = KinesisStream(stream, table, client=client("kinesis"), dynamodb_client=client("dynamodb"))
    shards = kinesis.shard_ids()
    assert len(shards) == 2
    records = [(f"apt-{i % 7}", orjson.dumps({"n": i})) for i in range(1200)]  # three PutRecords calls
    placed = kinesis.put_records(records)
    assert all(shard in shards and seq for shard, seq in placed)
    got = []
    for shard in shards:
        assert kinesis.get_checkpoint("processor", shard) is None
        first = kinesis.get_records(shard, None, 100)
        kinesis.set_checkpoint("processor", shard, first[-1].sequence_number)
        rest = kinesis.get_records(shard, kinesis.get_checkpoint("processor", shard), 10_000)
        assert [r.sequence_number for r in first + rest] == sorted((r.sequence_number for r in first + rest), key=int)
        got += first + rest
    assert sorted(orjson.loads(r.data)["n"] for r in got) == list(range(1200))
    assert kinesis.lag("processor") == 1200 - 200
