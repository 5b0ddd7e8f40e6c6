"""GIVEN the stack applied to moto (the session's shared stack), WHEN the archiver function's handler runs with
the environment Terraform gave it, under its own role with moto's IAM enforcement on, THEN every call it makes
is allowed, it archives the hour a scheduled-mode processor marked pending (and deletes the marker), compacts this
test's closed day into Parquet and names the damaged object it skipped — and its role cannot read the settings
document or write outside raw/ and days/; and the Glue table Terraform made reads the day object with the schema
it declares.

Only this test's objects are judged: they lie on a day a month back, and the run is as of the day after it, so
the days other tests write (today, yesterday) are never compacted here."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from energymon.adapters.aws.dynamodb_items import Minute, device_pk, minute_sk
from energymon.adapters.aws.pending_archive import PENDING_PK, PendingArchive
from energymon.adapters.aws.s3_archive import S3Archive
from energymon.adapters.columnar import decode_file
from energymon.domain.reading import Reading, format_ts
from energymon.runtimes import archiver_lambda

from .test_pipeline_on_terraform import tls_only_policy_lifted

if TYPE_CHECKING:
    from .conftest import AppliedStack
    from .roles import RoleRunner

pytestmark = pytest.mark.integration

DAY = 86_400_000
DEVICE = "archiver-test"


def test_the_archiver_runs_under_its_least_privilege_role(applied_stack: AppliedStack, role_runner: RoleRunner) -> None:
    moto = applied_stack.moto
    s3 = moto.client("s3")
    bucket = str(applied_stack["archive_bucket_name"])
    env = moto.client("lambda").get_function_configuration(
        FunctionName=str(applied_stack["archiver_function_name"]))["Environment"]["Variables"]
    assert sorted(env) == sorted(archiver_lambda.ARCHIVER_ENVIRONMENT) == applied_stack[
        "archiver_function_environment_variable_names"]
    now = int(time.time() * 1000)
    day_ms = now - now % DAY - 30 * DAY
    day = format_ts(day_ms)[:10]
    readings = [Reading(DEVICE, day_ms + i * 60_000, 100.0, 1.0 + i / 60) for i in range(300)]
    broken = f"raw/date={day}/shardId-000000000000-archiver-broken.ndjson.gz"
    # A minute a scheduled-mode processor stored and marked pending (its item put as the store writes it).
    ddb, table = moto.client("dynamodb"), str(applied_stack["table_name"])
    pending_minute = day_ms + 6 * 3_600_000
    pending = [Reading(DEVICE, pending_minute + k * 10_000, 200.0, 10.0 + k / 100) for k in range(6)]
    ddb.put_item(TableName=table, Item=Minute(pending_minute, {r.ts_ms: r for r in pending}).item(DEVICE, None))
    PendingArchive(table, client=ddb).put_readings("b", pending)
    with tls_only_policy_lifted(s3, bucket):
        archive = S3Archive(bucket, client=s3)
        for n, start in enumerate(range(0, len(readings), 100)):
            archive.put_readings(f"shardId-000000000000-archiver-{n}", readings[start:start + 100])
        s3.put_object(Bucket=bucket, Key=broken, Body=b"not gzip")

        # WHEN the handler runs as of the day after, as the archiver role
        with role_runner.run_as_role(str(applied_stack["archiver_role_name"])) as session:
            adapters = archiver_lambda.build_archiver(env, session=session)
            result = archiver_lambda.run_archiver(adapters, (day_ms + DAY + 3_600_000) / 1000)
            # AND it tries what its role does not allow
            role_s3 = session.client("s3")
            with pytest.raises(ClientError, match="AccessDenied"):
                role_s3.get_object(Bucket=bucket, Key="config/settings.json")
            with pytest.raises(ClientError, match="AccessDenied"):
                role_s3.put_object(Bucket=bucket, Key=f"rejected/{DEVICE}.json", Body=b"{}")
        log = session.log
        allowed_denials = {("s3:GetObject", f"arn:aws:s3:::{bucket}/config/settings.json"),
                           ("s3:PutObject", f"arn:aws:s3:::{bucket}/rejected/{DEVICE}.json")}
        denied = sorted({(d.request.action, d.request.resource) for d in log.denied} - allowed_denials)
        assert (denied, log.unmapped) == ([], [])

        # THEN the day is one Parquet object holding its readings, and the damaged object was named and kept
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"raw/date={day}/")["Contents"]]
        assert keys == [broken]
        day_key = f"days/date={day}/readings.parquet"
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=f"days/date={day}/")["Contents"]] == [
            day_key]
        assert result["compacted_days"] >= 1 and result["merged_objects"] >= 4
        assert [line.split(":")[0] for line in result["skipped_objects"]] == [broken]
        # AND the pending hour was archived (then compacted with its day) and its marker deleted
        assert result["pending_markers_archived"] == 1 and len(result["pending_objects"]) == 1
        assert ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                         ExpressionAttributeValues={":p": {"S": PENDING_PK}})["Count"] == 0
        parquet = s3.get_object(Bucket=bucket, Key=day_key)["Body"].read()
        assert decode_file("readings.parquet", parquet).readings == readings + pending
        ddb.delete_item(TableName=table, Key={"pk": {"S": device_pk(DEVICE)}, "sk": {"S": minute_sk(pending_minute)}})
        # AND the Glue table Terraform made reads that object: its projection locates the day's partition, and its
        # columns are the object's, by name and type
        glue_table = moto.client("glue").get_table(DatabaseName=str(applied_stack["athena_database"]),
                                                   Name=str(applied_stack["athena_readings_table"]))["Table"]
        assert_table_reads(glue_table, bucket, day, parquet, readings + pending)
        # The bucket is versioned: every version and delete marker of this test's day goes, so that terraform
        # destroy (which moto's DeleteObjects fails on for delete markers) finds nothing of ours.
        for prefix in (f"raw/date={day}/", f"days/date={day}/"):
            for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
                for version in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
                    s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])


# How Athena (Hive's Parquet SerDe) maps the table's column types onto Parquet's
GLUE_TO_ARROW = {"string": pa.string(), "timestamp": pa.timestamp("ms", tz="UTC"), "double": pa.float64()}


def assert_table_reads(table: dict[str, Any], bucket: str, day: str, body: bytes, readings: list[Reading]) -> None:
    parameters = table["Parameters"]
    assert parameters["projection.enabled"] == "true" and parameters["projection.date.type"] == "date"
    assert parameters["projection.date.format"] == "yyyy-MM-dd" and parameters["projection.date.range"].endswith(",NOW")
    assert [(k["Name"], k["Type"]) for k in table["PartitionKeys"]] == [("date", "string")]
    location = parameters["storage.location.template"].replace("${date}", day)
    assert location == f"s3://{bucket}/days/date={day}/"
    descriptor = table["StorageDescriptor"]
    assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert descriptor["Location"] == f"s3://{bucket}/days/"
    schema = pa.schema([(c["Name"], GLUE_TO_ARROW[c["Type"]]) for c in descriptor["Columns"]])
    written = pq.read_schema(pa.BufferReader(body))
    assert schema == written, f"the table says {schema}, the object holds {written}"
    # read with the table's schema (what Athena does), every reading comes back
    rows = pq.read_table(pa.BufferReader(body), schema=schema).to_pylist()
    assert [(r["device_id"], int(r["ts"].timestamp() * 1000), r["energy_wh"]) for r in rows] == [
        (r.device_id, r.ts_ms, r.energy_wh) for r in readings]
