"""The archiver function (runtimes/archiver_lambda.py) over a moto server: its environment contract with
modules/archive, one scheduled run that compacts closed days into Parquet and reports a damaged object by key
(skipping it), and clear errors for a bad environment."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from energymon.adapters.aws.s3_archive import S3Archive
from energymon.adapters.columnar import decode_file
from energymon.domain.reading import Reading, format_ts
from energymon.errors import ConfigError
from energymon.runtimes import archiver_lambda

pytestmark = pytest.mark.integration

ARCHIVE_MODULE = Path(__file__).resolve().parents[3] / "infra" / "terraform" / "modules" / "archive"
DAY = 86_400_000


def test_given_the_archive_module_then_it_sets_exactly_what_the_archiver_reads() -> None:
    text = (ARCHIVE_MODULE / "main.tf").read_text()
    block = re.search(r"environment_variables\s*=\s*\{(.*?)\n  \}", text, re.S)
    assert block, "no environment_variables = {...} in modules/archive/main.tf"
    assert set(re.findall(r"\b([A-Z][A-Z0-9_]+)\s*=", block.group(1))) == set(archiver_lambda.ARCHIVER_ENVIRONMENT)
    assert '"energymon.runtimes.archiver_lambda.handler"' in text


def _environment(table: str, bucket: str, **overrides: str) -> dict[str, str]:
    return {"ENERGYMON_TABLE_NAME": table, "ENERGYMON_ARCHIVE_BUCKET": bucket, "ENERGYMON_RAW_RETENTION_DAYS": "90",
            "ENERGYMON_STREAM_RETENTION_HOURS": "24", "POWERTOOLS_LOG_LEVEL": "INFO", **overrides}


def test_a_scheduled_run_compacts_closed_days_and_reports_a_damaged_object_by_key(
    client: Any, table: str, bucket: str, session: Any
) -> None:
    s3 = client("s3")
    now = int(time.time() * 1000)
    today = now - now % DAY
    readings = [Reading(f"apt-{i % 2}", today - DAY + i * 60_000, 100.0 + i % 7, 5.0 + i * 0.01)
                for i in range(1440 + 30)]  # yesterday and half an hour of today
    archive = S3Archive(bucket, client=s3)
    for n, start in enumerate(range(0, len(readings), 100)):
        archive.put_readings(f"shardId-000000000000-{n:04d}-{n:04d}", readings[start:start + 100])
    yesterday = format_ts(today - DAY)[:10]
    broken = f"raw/date={yesterday}/shardId-000000000000-9999-9999.ndjson.gz"
    s3.put_object(Bucket=bucket, Key=broken, Body=b"\x1f\x8b\x08truncated")
    adapters = archiver_lambda.build_archiver(_environment(table, bucket), session=session)

    # WHEN the schedule fires now
    result = archiver_lambda.run_archiver(adapters, now / 1000)

    # THEN yesterday is one Parquet object with every reading of yesterday; the damaged object is named, kept
    assert result["compacted_days"] == 1 and result["merged_objects"] >= 14
    assert result["pinned_openers"] == 0
    assert len(result["skipped_objects"]) == 1 and result["skipped_objects"][0].startswith(f"{broken}: ")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    day_key = f"days/date={yesterday}/readings.parquet"
    assert day_key in keys and broken in keys
    body = s3.get_object(Bucket=bucket, Key=day_key)["Body"].read()
    stored = decode_file(day_key, body).readings
    assert sorted(stored, key=lambda r: (r.ts_ms, r.device_id)) == [r for r in readings if r.ts_ms < today]
    # AND a second run finds nothing more to do
    again = archiver_lambda.run_archiver(adapters, now / 1000)
    assert (again["compacted_days"], again["merged_objects"]) == (0, 0)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"ENERGYMON_RAW_RETENTION_DAYS": "20"}, "ENERGYMON_RAW_RETENTION_DAYS: 20 days is shorter than the processor's"),
    ({"ENERGYMON_RAW_RETENTION_DAYS": "-1"}, "ENERGYMON_RAW_RETENTION_DAYS: must be a positive number of days"),
    ({"ENERGYMON_STREAM_RETENTION_HOURS": "a day"}, "ENERGYMON_STREAM_RETENTION_HOURS: 'a day' is not a number"),
    ({"ENERGYMON_TABLE_NAME": ""}, "ENERGYMON_TABLE_NAME"),
])
def test_a_bad_environment_is_refused_with_the_reason(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        archiver_lambda.build_archiver(_environment("t", "b", **overrides))
