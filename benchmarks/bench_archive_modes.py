"""Archive modes, measured: what the archive costs per hour for one home, per_batch vs scheduled.

Run: ``python -m benchmarks.bench_archive_modes [hours]`` (default 3). One simulated home at 1 Hz, one MQTT
message per 10 s, one batch per 60 s (the lean example's window), through the handler as ``lambda_handler.build``
makes it against a moto server over HTTP, with the processor's and the marker adapter's clocks following the
simulated time. The scheduled mode's archiver (``archiver_lambda.run_archiver``) runs one minute past every hour.
Every AWS request is counted by a botocore hook (benchmarks/bench_cost_profiles.py ``Requests``); marker writes
are 1 WCU each (an item of about 60 bytes); read units from the items the Queries return (strongly consistent).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import time
from typing import Any

import boto3

from benchmarks.bench_cost_profiles import Requests, _stack
from benchmarks.bench_read_api import _moto
from energymon.adapters.aws.pending_archive import PendingArchive
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.mqtt.bridge import canonical_to_record
from energymon.domain.reading import encode_message, telemetry_topic
from energymon.domain.simulation import Apartment
from energymon.ports import StreamRecord
from energymon.runtimes import archiver_lambda, lambda_handler

DEVICE = "apt-12"
HOUR_MS = 3_600_000
MESSAGE_S = 10
BATCH_MESSAGES = 6


def run_mode(url: str, mode: str, hours: int) -> dict[str, Any]:
    session, env, _ = _stack(url, "fleet")
    env["ENERGYMON_ARCHIVE_MODE"] = mode
    handler_calls = Requests(session)
    t0 = (int(time.time() * 1000) // HOUR_MS - hours - 2) * HOUR_MS
    clock = [t0 / 1000]
    adapters = lambda_handler.build(env, session=session)
    adapters.processor.clock = lambda: clock[0]
    markers = 0
    if isinstance(adapters.archive, PendingArchive):
        adapters.archive.clock = lambda: clock[0]
        put = adapters.archive.put_readings

        def counted(batch_id: str, readings: Any) -> list[str]:
            nonlocal markers
            written = put(batch_id, readings)
            markers += len(written)
            return written

        adapters.archive.put_readings = counted  # type: ignore[method-assign]
    archiver_session = boto3.session.Session(region_name="us-east-1")
    archiver_calls = Requests(archiver_session)
    archiver = archiver_lambda.build_archiver({
        "ENERGYMON_TABLE_NAME": env["ENERGYMON_TABLE_NAME"], "ENERGYMON_ARCHIVE_BUCKET": env["ENERGYMON_ARCHIVE_BUCKET"],
        "ENERGYMON_RAW_RETENTION_DAYS": "90", "ENERGYMON_STREAM_RETENTION_HOURS": "24",
        "POWERTOOLS_LOG_LEVEL": "WARNING"}, session=archiver_session)
    readings = list(Apartment(DEVICE, 42, "Europe/Berlin").samples(t0, hours * 3600))
    messages = [canonical_to_record(telemetry_topic(DEVICE), encode_message(DEVICE, n, readings[i:i + MESSAGE_S]))
                for n, i in enumerate(range(0, len(readings), MESSAGE_S))]
    batches = 0
    next_run = t0 + HOUR_MS + 60_000
    with contextlib.redirect_stdout(io.StringIO()):
        for first in range(0, len(messages), BATCH_MESSAGES):
            clock[0] = (t0 + (first + BATCH_MESSAGES) * MESSAGE_S * 1000 + 500) / 1000
            if mode == "scheduled" and clock[0] * 1000 >= next_run:
                archiver_lambda.run_archiver(archiver, next_run / 1000)
                next_run += HOUR_MS
            event = kinesis_event([StreamRecord("shardId-000000000000", str(first + i + 1), key, data, clock[0])
                                   for i, (key, data) in enumerate(messages[first:first + BATCH_MESSAGES])], "arn")
            assert adapters.processor.handle(event)["batchItemFailures"] == []
            batches += 1
        if mode == "scheduled":
            archiver_lambda.run_archiver(archiver, next_run / 1000)
    s3 = session.client("s3")
    objects = [o for o in s3.list_objects_v2(Bucket=env["ENERGYMON_ARCHIVE_BUCKET"], Prefix="raw/").get("Contents", [])]
    pending = {k: v for k, v in archiver_calls.calls.items() if k in (
        "dynamodb.Query", "dynamodb.DeleteItem", "s3.PutObject")}
    return {"mode": mode, "hours": hours, "readings": len(readings), "batches": batches,
            "handler_s3_puts": handler_calls.calls["s3.PutObject"], "marker_writes": markers,
            "archiver_calls": pending, "archiver_rcu": archiver_calls.read_units_by_operation["Query"],
            "raw_objects": len(objects), "raw_bytes": sum(o["Size"] for o in objects)}


def main(hours: int = 3) -> list[dict[str, Any]]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    proc, url = _moto()
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = url
    try:
        rows = [run_mode(url, "per_batch", hours), run_mode(url, "scheduled", hours)]
    finally:
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
        proc.terminate()
        proc.wait(timeout=10)
    for r in rows:
        per_hour = {k: v / r["hours"] for k, v in r["archiver_calls"].items()}
        print(f"{r['mode']:9} {r['hours']} h, {r['readings']} readings, {r['batches']} batches: handler S3 PUTs "
              f"{r['handler_s3_puts']} ({r['handler_s3_puts'] / r['hours']:.0f}/h), marker writes "
              f"{r['marker_writes']} ({r['marker_writes'] / r['hours']:.1f}/h, 1 WCU each); archiver per hour "
              f"{', '.join(f'{k} {v:.1f}' for k, v in sorted(per_hour.items())) or 'nothing'}, "
              f"{r['archiver_rcu'] / r['hours']:.1f} RCU; raw/ objects left {r['raw_objects']} "
              f"({r['raw_bytes']} bytes)")
    return rows


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
