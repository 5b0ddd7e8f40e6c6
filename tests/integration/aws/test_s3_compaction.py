"""GIVEN per-batch archive objects in S3 (moto server), WHEN the archive is compacted, THEN each closed UTC day
becomes one zstd Parquet object holding exactly its readings, today's batches stay, a damaged object is
reported and kept, and late batches for a compacted day merge into it without duplicates."""

from __future__ import annotations

import time
from typing import Any

import pytest

from energymon.adapters.aws.s3_archive import S3Archive
from energymon.adapters.columnar import ArchiveProblem, decode_file, encode_day
from energymon.domain.reading import Reading, format_ts

pytestmark = pytest.mark.integration

DAY = 86_400_000


def _keys(s3: Any, bucket: str) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def test_closed_days_become_one_parquet_object_each(client: Any, bucket: str) -> None:
    s3 = client("s3")
    archive = S3Archive(bucket, client=s3)
    now = int(time.time() * 1000)
    today = now - now % DAY
    readings = [Reading(f"apt-{i % 3}", today - 2 * DAY + i * 30_000, 100.0 + i % 50, 10.0 + i * 0.01)
                for i in range(2 * 2880 + 100)]  # two closed days and a bit of today
    for n, start in enumerate(range(0, len(readings), 200)):
        archive.put_readings(f"shardId-000000000000-{n:04d}-{n:04d}", readings[start:start + 200])
    day1 = format_ts(today - 2 * DAY)[:10]
    s3.put_object(Bucket=bucket, Key=f"raw/date={day1}/shardId-broken.ndjson.gz", Body=b"\x1f\x8b\x08garbage")
    problems: list[ArchiveProblem] = []
    closed_batches = [k for k in _keys(s3, bucket) if not k.startswith(f"raw/date={format_ts(today)[:10]}/")
                      and "broken" not in k]
    assert len(closed_batches) > 20

    days, merged = archive.compact(today, problems.append)

    keys = _keys(s3, bucket)
    assert (days, merged) == (2, len(closed_batches))
    assert [p.name for p in problems] == [f"raw/date={day1}/shardId-broken.ndjson.gz"]
    day_objects = [k for k in keys if k.endswith("readings.parquet")]
    # in days/, apart from the batch objects: a table over days/ (Athena's) finds Parquet only
    assert day_objects == [f"days/date={day1}/readings.parquet", f"days/date={format_ts(today - DAY)[:10]}/readings.parquet"]
    assert f"raw/date={day1}/shardId-broken.ndjson.gz" in keys
    assert all(k.startswith(f"raw/date={format_ts(today)[:10]}/") for k in keys
               if k.endswith(".ndjson.gz") and "broken" not in k)
    stored = []
    for key in day_objects:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        stored += decode_file(key, body).readings
    assert sorted(stored, key=lambda r: (r.ts_ms, r.device_id)) == [r for r in readings if r.ts_ms < today]

    # WHEN a late batch (with a reading already archived) lands on a compacted day, THEN it merges in once
    late = [Reading("apt-9", today - DAY + 5, 1.0, 2.0), readings[-200]]
    archive.put_readings("shardId-000000000000-late-late", [r for r in late if r.ts_ms < today])
    assert archive.compact(today, problems.append) == (1, 1)
    key = f"days/date={format_ts(today - DAY)[:10]}/readings.parquet"
    again = decode_file(key, s3.get_object(Bucket=bucket, Key=key)["Body"].read()).readings
    assert len(again) == sum(1 for r in readings if today - DAY <= r.ts_ms < today) + 1


def test_a_day_object_of_the_earlier_layout_is_merged_into_days_and_deleted(client: Any, bucket: str) -> None:
    """GIVEN a bucket compacted before days/ existed (raw/date=D/readings.parquet) and a late batch for that day
    WHEN compacted THEN both are in days/date=D/readings.parquet, once each, and raw/ holds neither."""
    s3 = client("s3")
    archive = S3Archive(bucket, client=s3)
    now = int(time.time() * 1000)
    day = now - now % DAY - 3 * DAY
    readings = [Reading("apt-1", day + i * 60_000, 100.0, 10.0 + i) for i in range(100)]
    date = format_ts(day)[:10]
    s3.put_object(Bucket=bucket, Key=f"raw/date={date}/readings.parquet", Body=encode_day(readings[:90]))
    archive.put_readings("shardId-000000000000-late", readings[85:])

    assert archive.compact(now, print) == (1, 2)

    keys = [k for k in _keys(s3, bucket) if f"date={date}/" in k]
    assert keys == [f"days/date={date}/readings.parquet"]
    body = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    assert decode_file(keys[0], body).readings == readings
