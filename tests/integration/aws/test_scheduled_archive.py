"""The scheduled archive (ENERGYMON_ARCHIVE_MODE=scheduled, adapters/aws/pending_archive.py) over a moto server:
the handler marks (UTC hour, device) pending instead of a PUT per batch; the archiver writes one object per UTC
date from the minute items and deletes the markers it archived. The replay guarantee is kept: the same readings
through either mode are the same archived readings after compaction, a marker rewritten by a late batch during a
run is archived by the next, and a run repeated after a crash adds no duplicate."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from energymon.adapters.aws import pending_archive
from energymon.adapters.aws.pending_archive import PENDING_PK, PendingArchive, archive_pending, parse_marker_sk
from energymon.adapters.aws.s3_archive import S3Archive
from energymon.adapters.aws.settings_object import publish_shared_settings
from energymon.adapters.columnar import decode_file, merge_day
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.domain.reading import Reading, encode_message, format_ts
from energymon.domain.simulation import Apartment
from energymon.errors import ConfigError
from energymon.ports import StreamRecord
from energymon.runtimes import archiver_lambda, lambda_handler
from energymon.shared_settings import SharedSettings

if TYPE_CHECKING:
    from collections.abc import Callable

pytestmark = pytest.mark.integration

HOUR = 3_600_000
DAY = 86_400_000
STREAM = "arn:aws:kinesis:us-east-1:123456789012:stream/s"


def _env(s3: Any, table: str, bucket: str, topic: str, mode: str | None) -> dict[str, str]:
    key, digest = publish_shared_settings(s3, bucket, SharedSettings(timezone="Europe/Berlin"))
    env = {"ENERGYMON_TABLE_NAME": table, "ENERGYMON_ARCHIVE_BUCKET": bucket, "ENERGYMON_ALERT_TOPIC_ARN": topic,
           "ENERGYMON_SETTINGS_KEY": key, "ENERGYMON_SETTINGS_SHA256": digest, "POWERTOOLS_SERVICE_NAME": "energymon",
           "POWERTOOLS_METRICS_NAMESPACE": "energymon", "POWERTOOLS_LOG_LEVEL": "WARNING",
           "ENERGYMON_RAW_RETENTION_DAYS": "90"}
    if mode is not None:
        env["ENERGYMON_ARCHIVE_MODE"] = mode
    return env


def _archiver(table: str, bucket: str, session: Any) -> archiver_lambda.ArchiverAdapters:
    return archiver_lambda.build_archiver({
        "ENERGYMON_TABLE_NAME": table, "ENERGYMON_ARCHIVE_BUCKET": bucket, "ENERGYMON_RAW_RETENTION_DAYS": "90",
        "ENERGYMON_STREAM_RETENTION_HOURS": "24", "POWERTOOLS_LOG_LEVEL": "WARNING"}, session=session)


def _readings(device: str, start_ms: int, count: int, step_ms: int = 10_000) -> list[Reading]:
    return list(Apartment(device, 3, "Europe/Berlin").samples(start_ms, count, step_ms))


def _batches(readings: list[Reading], size: int = 30) -> list[dict[str, Any]]:
    """Kinesis events of ``size`` readings each (one record per 10 readings), arriving now."""
    events = []
    for start in range(0, len(readings), size):
        records = []
        for i in range(start, min(start + size, len(readings)), 10):
            group = readings[i:i + 10]
            device = group[0].device_id
            body = orjson.loads(encode_message(device, i, group))
            body["topic_device_id"] = device
            records.append(StreamRecord("shardId-000000000000", f"{device}-{i:06d}", device, orjson.dumps(body),
                                        time.time()))
        events.append(kinesis_event(records, STREAM))
    return events


def _markers(ddb: Any, table: str) -> dict[tuple[int, str], str]:
    items = ddb.query(TableName=table, KeyConditionExpression="pk = :p", ConsistentRead=True,
                      ExpressionAttributeValues={":p": {"S": PENDING_PK}})["Items"]
    return {parse_marker_sk(i["sk"]["S"]): i["w"]["S"] for i in items}


def _raw_keys(s3: Any, bucket: str) -> list[str]:
    """The archive's objects: batch and scheduled objects in raw/, compacted days in days/."""
    return sorted(o["Key"] for prefix in ("raw/", "days/")
                  for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))


def _archived(s3: Any, bucket: str) -> list[Reading]:
    """Every reading the archive holds, read back as compaction and replay read it (duplicates dropped)."""
    out: list[Reading] = []
    for key in _raw_keys(s3, bucket):
        decoded = decode_file(key, s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        assert decoded.problem is None, decoded.problem
        out.extend(decoded.readings)
    return merge_day(out)


def _raw_lines(s3: Any, bucket: str) -> int:
    """Readings in the archive counted with their duplicates (what a replay would read twice)."""
    return sum(len(decode_file(k, s3.get_object(Bucket=bucket, Key=k)["Body"].read()).readings)
               for k in _raw_keys(s3, bucket))


@pytest.fixture
def recent() -> int:
    """The start of a UTC hour three hours ago: its hours have closed, its readings are days younger than the limit."""
    now = int(time.time() * 1000)
    return now - now % HOUR - 3 * HOUR


def test_given_scheduled_mode_when_batches_are_handled_then_markers_are_written_and_no_object(
    client: Any, session: Any, table: str, bucket: str, topic: str, recent: int
) -> None:
    s3, ddb = client("s3"), client("dynamodb")
    adapters = lambda_handler.build(_env(s3, table, bucket, topic, "scheduled"), session=session)
    assert isinstance(adapters.archive, PendingArchive)
    readings = _readings("apt-1", recent + HOUR - 600_000, 120) + _readings("apt-2", recent, 30)
    events = _batches(readings)

    # WHEN the batches are handled, and the first one is delivered again
    for event in [*events, events[0]]:
        assert adapters.processor.handle(event) == {"batchItemFailures": []}

    # THEN the readings are stored, no raw/ object was put, and one marker stands per UTC hour and device
    assert {d.device_id: d.readings for d in adapters.store.devices()} == {"apt-1": 120, "apt-2": 30}
    assert _raw_keys(s3, bucket) == []
    assert set(_markers(ddb, table)) == {(recent, "apt-1"), (recent + HOUR, "apt-1"), (recent, "apt-2")}


def test_given_the_same_readings_through_both_modes_then_the_archive_holds_the_same_readings(
    client: Any, session: Any, new_table: Callable[[], str], topic: str, recent: int
) -> None:
    s3 = client("s3")
    buckets = {"per_batch": "energymon-mode-per-batch", "scheduled": "energymon-mode-scheduled"}
    # Two devices over three UTC hours, sent out of order, one batch twice, with a late batch for the first hour.
    readings = _readings("apt-1", recent, 600, 15_000) + _readings("apt-2", recent + 600_000, 400, 20_000)
    events = _batches(readings, 40)
    events = [*events[5:], *events[:5], events[3]]
    archived = {}
    for mode, bucket in buckets.items():
        s3.create_bucket(Bucket=bucket)
        table = new_table()
        adapters = lambda_handler.build(_env(s3, table, bucket, topic, mode), session=session)
        for event in events:
            assert adapters.processor.handle(event) == {"batchItemFailures": []}
        # WHEN the archiver runs a day later (every hour closed, the days compacted)
        result = archiver_lambda.run_archiver(_archiver(table, bucket, session), time.time() + 86_400)
        assert result["compacted_days"] >= 1
        archived[mode] = _archived(s3, bucket)
    # THEN both archives hold exactly the readings sent, nothing more
    assert archived["scheduled"] == archived["per_batch"] == merge_day(readings)
    assert all(not k.endswith(".ndjson.gz") for k in _raw_keys(s3, buckets["scheduled"]))


def test_an_archiver_run_writes_one_object_per_utc_date_and_deletes_the_markers(
    client: Any, session: Any, table: str, bucket: str, topic: str
) -> None:
    s3, ddb = client("s3"), client("dynamodb")
    now = int(time.time() * 1000)
    midnight = (now - 2 * HOUR) - (now - 2 * HOUR) % DAY  # a UTC midnight at least two hours ago
    readings = _readings("apt-1", midnight - HOUR - 60_000, 150, 30_000) + _readings("apt-2", midnight - 90_000, 40)
    adapters = lambda_handler.build(_env(s3, table, bucket, topic, "scheduled"), session=session)
    for event in _batches(readings):
        adapters.processor.handle(event)
    assert len(_markers(ddb, table)) == 5  # apt-1: 22:00, 23:00, 00:00 (+1 min); apt-2: 23:00, 00:00

    # WHEN the archiver's pending pass runs now (before any compaction)
    report = archive_pending(ddb, table, S3Archive(bucket, client=s3), now)

    # THEN one object per UTC date, named by its content, in the per-batch format; the markers are gone
    dates = [format_ts(midnight - DAY)[:10], format_ts(midnight)[:10]]
    assert [k.split("/")[1] for k in report.objects] == [f"date={d}" for d in dates]
    assert all(re.fullmatch(r"raw/date=[0-9-]+/scheduled-[0-9a-f]{16}\.ndjson\.gz", k) for k in report.objects)
    assert _raw_keys(s3, bucket) == sorted(report.objects)
    assert (report.readings, report.archived_markers, report.kept_markers) == (len(readings), 5, 0)
    assert _markers(ddb, table) == {}
    assert _archived(s3, bucket) == merge_day(readings)
    # AND a second run finds nothing to do
    assert archive_pending(ddb, table, S3Archive(bucket, client=s3), now).objects == []


def test_a_marker_of_the_open_hour_waits_for_its_hour_to_close(
    client: Any, table: str, bucket: str
) -> None:
    s3, ddb = client("s3"), client("dynamodb")
    now = int(time.time() * 1000)
    open_hour = now - now % HOUR
    PendingArchive(table, client=ddb).put_readings("b", [Reading("apt-1", open_hour + 1000, 1.0, 2.0)])
    report = archive_pending(ddb, table, S3Archive(bucket, client=s3), now)
    assert report.objects == [] and set(_markers(ddb, table)) == {(open_hour, "apt-1")}


def test_given_a_late_batch_during_a_run_then_its_marker_stays_and_the_next_run_archives_it(
    client: Any, session: Any, table: str, bucket: str, topic: str, recent: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3, ddb = client("s3"), client("dynamodb")
    adapters = lambda_handler.build(_env(s3, table, bucket, topic, "scheduled"), session=session)
    first = _readings("apt-1", recent, 100, 20_000)
    late = _readings("apt-1", recent + 2_100_000, 60, 20_000)[1::2]  # the same hour, between the first's readings
    for event in _batches(first):
        adapters.processor.handle(event)
    read_hour = pending_archive._hour_readings  # noqa: SLF001 - the moment between reading and deleting

    def read_then_late_batch(*args: Any) -> list[Reading]:
        out = read_hour(*args)
        if late:
            for event in _batches(late):  # a late batch lands after the hour was read, before the delete
                assert adapters.processor.handle(event) == {"batchItemFailures": []}
            late_readings[:] = late
            late.clear()
        return out

    late_readings: list[Reading] = []
    monkeypatch.setattr(pending_archive, "_hour_readings", read_then_late_batch)
    archive = S3Archive(bucket, client=s3)
    now = int(time.time() * 1000)

    # WHEN the archiver runs while the late batch lands
    report = archive_pending(ddb, table, archive, now)

    # THEN the marker the late batch rewrote stays; what was read is archived
    assert (report.archived_markers, report.kept_markers, report.readings) == (0, 1, len(first))
    assert set(_markers(ddb, table)) == {(recent, "apt-1")}
    # AND the next run archives the hour again, late readings included, and deletes the marker
    again = archive_pending(ddb, table, archive, now)
    assert (again.archived_markers, again.kept_markers) == (1, 0) and _markers(ddb, table) == {}
    assert _archived(s3, bucket) == merge_day(first + late_readings)


def test_a_run_repeated_after_a_crash_between_the_object_and_the_deletes_adds_no_duplicate(
    client: Any, session: Any, table: str, bucket: str, topic: str, recent: int
) -> None:
    s3, ddb = client("s3"), client("dynamodb")
    adapters = lambda_handler.build(_env(s3, table, bucket, topic, "scheduled"), session=session)
    readings = _readings("apt-1", recent, 300, 20_000) + _readings("apt-2", recent, 50, 60_000)
    for event in _batches(readings):
        adapters.processor.handle(event)
    archiver = _archiver(table, bucket, session)

    class Crash(Exception):
        pass

    def crash(**_: Any) -> None:
        raise Crash

    # GIVEN a run that wrote its object and died before deleting any marker
    crashing = session.client("dynamodb")
    crashing.delete_item = crash
    with pytest.raises(Crash):
        archive_pending(crashing, table, archiver.archive, int(time.time() * 1000))
    written = _raw_keys(s3, bucket)
    assert len(written) == 1 and len(_markers(ddb, table)) == 3

    # WHEN the next scheduled run (a day later: the day is compacted) repeats the work
    result = archiver_lambda.run_archiver(archiver, time.time() + 86_400)

    # THEN it rewrote the same object (same content, same name), deleted the markers, and the day holds each
    # reading once
    assert result["pending_objects"] == written and result["pending_markers_archived"] == 3
    assert _markers(ddb, table) == {}
    assert [k.rsplit("/", 1)[1] for k in _raw_keys(s3, bucket)] == ["readings.parquet"]
    assert _raw_lines(s3, bucket) == len(readings)
    assert _archived(s3, bucket) == merge_day(readings)


def test_a_date_with_more_readings_than_an_object_holds_is_split_and_all_archived(
    client: Any, session: Any, table: str, bucket: str, topic: str, recent: int
) -> None:
    s3, ddb = client("s3"), client("dynamodb")
    adapters = lambda_handler.build(_env(s3, table, bucket, topic, "scheduled"), session=session)
    readings = [r for d in ("apt-1", "apt-2", "apt-3") for r in _readings(d, recent, 60, 60_000)]
    for event in _batches(readings):
        adapters.processor.handle(event)
    report = archive_pending(ddb, table, S3Archive(bucket, client=s3), int(time.time() * 1000),
                             max_object_readings=100)
    assert len(report.objects) == 2 and report.archived_markers == 3  # 120 readings, then 60
    assert _archived(s3, bucket) == merge_day(readings) and _markers(ddb, table) == {}


def test_a_container_writes_a_marker_of_the_open_hour_once_until_near_its_end(client: Any, table: str) -> None:
    ddb = client("dynamodb")
    hour = int(time.time() * 1000) // HOUR * HOUR
    clock = [hour / 1000 + 60]
    archive = PendingArchive(table, client=ddb, clock=lambda: clock[0])

    def put(ts_ms: int, device: str = "apt-1") -> list[str]:
        return archive.put_readings("b", [Reading(device, ts_ms, 1.0, 2.0)])

    assert put(hour + 1000) == [f"{hour:013d}#apt-1"]
    first = _markers(ddb, table)
    assert put(hour + 2000) == []  # the open hour's marker stands: no write
    assert put(hour - HOUR + 5) == [f"{hour - HOUR:013d}#apt-1"]  # a late reading of a closed hour: always
    assert put(hour - HOUR + 6) == [f"{hour - HOUR:013d}#apt-1"]
    clock[0] = hour / 1000 + 3540  # a minute before the hour ends, the archiver may be about to read it
    assert put(hour + 3000) == [f"{hour:013d}#apt-1"]
    assert _markers(ddb, table)[(hour, "apt-1")] != first[(hour, "apt-1")]


@pytest.mark.parametrize("value", ["hourly", "PER_BATCH", "scheduled "])
def test_a_bad_archive_mode_is_refused_with_the_allowed_values(value: str) -> None:
    env = {**dict.fromkeys(lambda_handler.ENVIRONMENT, "x"), "ENERGYMON_ARCHIVE_MODE": value}
    with pytest.raises(ConfigError, match=re.escape(
            f"ENERGYMON_ARCHIVE_MODE: {value!r} is not an archive mode; use one of per_batch, scheduled")):
        lambda_handler.build(env)
