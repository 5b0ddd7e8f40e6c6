"""Read API benchmark: the AWS read side on a moto server against the local SQLite API, in one run.

Run with ``python -m benchmarks.bench_read_api``. One device, a year of hour items (DynamoDB) / minute rows
(SQLite) and its last 26 hours of readings through the real processor into both stores; then p50/p95 of
the dashboard's two heaviest requests — a year of daily bars and 24 h of per-minute power:

* ``local``: ``energymon serve`` over SQLite (uvicorn, real HTTP);
* ``aws serve``: the same app over the AWS read adapters (``serve --aws-table``), moto over HTTP;
* ``aws lambda``: the read API Lambda handler (Mangum) fed API Gateway v2 events in-process, moto over HTTP —
  what the hosted API executes, without API Gateway's own latency.
"""

from __future__ import annotations

import base64
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from energymon.adapters.aws.dynamodb_items import Sums, device_pk, hour_sk, n
from energymon.adapters.mqtt.bridge import canonical_to_record
from energymon.adapters.mqtt.broker import free_port
from energymon.domain.reading import Reading, encode_message, telemetry_topic

TZ = "Europe/Berlin"
DEVICE = "apt-1"
TOKEN = "bench-read-api-token-" + "0" * 20  # noqa: S105 - a benchmark token
RUNS = 10
SLOW_RUNS = 3  # a year of hour items through moto takes seconds per request: fewer runs keep the run short


def _moto() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/moto-api/", timeout=1)
            return proc, url
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _events(start_ms: int, hours: int) -> list[dict[str, Any]]:
    readings = []
    energy = 5_000_000.0
    for i in range(hours * 60):
        power = 300 + (i % 97) * 5
        energy += power / 60
        readings.append(Reading(DEVICE, start_ms + i * 60_000, power_w=float(power), energy_wh=round(energy, 3)))
    records = []
    for seq, i in enumerate(range(0, len(readings), 10)):
        key, data = canonical_to_record(telemetry_topic(DEVICE), encode_message(DEVICE, seq, readings[i:i + 10]))
        records.append({"kinesis": {"partitionKey": key, "sequenceNumber": f"{seq + 1:056d}",
                                    "data": base64.b64encode(data).decode(), "approximateArrivalTimestamp": time.time()},
                        "eventID": f"shardId-000000000000:{seq + 1:056d}", "eventSource": "aws:kinesis"})
    return [{"Records": records[i:i + 100]} for i in range(0, len(records), 100)]


def _seed_year_dynamodb(ddb: Any, table: str, start_ms: int, end_ms: int) -> int:
    tz = ZoneInfo(TZ)
    items = []
    for hour in range(start_ms, end_ms, 3_600_000):
        sums = Sums(import_mwh=400_000 + hour // 3_600_000 % 300_000, samples=360, readings=360,
                    peak_w=900.0, day=datetime.fromtimestamp(hour / 1000, tz).strftime("%Y-%m-%d"))
        items.append({"pk": {"S": device_pk(DEVICE)}, "sk": {"S": hour_sk(hour)}, **sums.attributes(),
                      "b": n(360)})
    for i in range(0, len(items), 25):
        request: Any = {table: [{"PutRequest": {"Item": item}} for item in items[i:i + 25]]}
        while request:
            request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or None
    return len(items)


def _seed_year_sqlite(store: Any, start_ms: int, end_ms: int) -> None:
    from energymon.domain.timebuckets import local_keys

    tz = ZoneInfo(TZ)
    rows = []
    for m in range(start_ms, end_ms, 60_000):
        keys = local_keys(m, tz)
        rows.append((DEVICE, m, 6667, 0, 900.0, 6, 0, keys.hour_ms, keys.day, keys.month, 0))
    sums = "SUM(import_mwh), SUM(export_mwh), MAX(peak_w), SUM(samples)"
    with store.db.transaction() as con:
        con.executemany("INSERT INTO minutes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute(f"INSERT INTO hours SELECT device, hour, {sums}, SUM(gap) FROM minutes GROUP BY device, hour")
        con.execute(f"INSERT INTO days SELECT device, day, MIN(month), {sums}, SUM(gap) FROM minutes "
                    "GROUP BY device, day")
        con.execute(f"INSERT INTO months SELECT device, month, {sums}, SUM(gap_minutes) FROM days "
                    "GROUP BY device, month")


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms"


def _time(call: Any, runs: int = RUNS) -> list[float]:
    call()  # warm: first query plans, connection pools
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:  # noqa: PLR0915 - one linear benchmark script
    import boto3

    from energymon.api import WebServer
    from energymon.config import load_settings
    from energymon.runtimes import api_lambda, lambda_handler
    from energymon.runtimes.aws_read import open_aws_read
    from energymon.runtimes.local import LocalAdapters, start_web

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load {os.getloadavg()[0]:.2f}")
    moto, endpoint = _moto()
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint})
    servers: list[Any] = []
    try:
        session = boto3.session.Session(region_name="us-east-1")
        ddb = session.client("dynamodb")
        table, bucket = "bench-readings", "bench-archive"
        ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}])
        session.client("s3").create_bucket(Bucket=bucket)
        topic = session.client("sns").create_topic(Name="bench")["TopicArn"]
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        recent = now - timedelta(hours=26)
        year_start = int((recent - timedelta(days=366)).timestamp() * 1000)
        recent_ms = int(recent.timestamp() * 1000)
        t0 = time.perf_counter()
        hours = _seed_year_dynamodb(ddb, table, year_start, recent_ms - 2 * 3_600_000)
        env = {"ENERGYMON_TABLE_NAME": table, "ENERGYMON_ARCHIVE_BUCKET": bucket, "ENERGYMON_ALERT_TOPIC_ARN": topic,
               "ENERGYMON_DEFAULT_TIMEZONE": TZ, "POWERTOOLS_SERVICE_NAME": "bench",
               "POWERTOOLS_METRICS_NAMESPACE": "bench", "POWERTOOLS_LOG_LEVEL": "ERROR"}
        events = _events(recent_ms, 26)
        processor = lambda_handler.build(env, session).processor
        sys.stdout.flush()
        devnull = open(os.devnull, "w")  # noqa: SIM115 - EMF lines of the handler, not benchmark output
        real_stdout, sys.stdout = sys.stdout, devnull
        try:
            for event in events:
                processor.handle(event, None)
        finally:
            sys.stdout = real_stdout
        print(f"seeded DynamoDB on moto: {hours:,} hour items + 26 h of readings in {time.perf_counter() - t0:.1f} s")
        tmp = Path(tempfile.mkdtemp(prefix="bench-read-api-"))
        config = tmp / "energymon.toml"
        config.write_text(f'timezone = "{TZ}"\n')
        settings = load_settings(config, data_dir=tmp / "data", web_port=0)
        local = LocalAdapters(settings)
        _seed_year_sqlite(local.store, year_start, recent_ms - 2 * 3_600_000)
        for event in events:
            local.processor.handle(event, None)
        local_web = start_web(settings, local)
        servers.append(local_web)
        aws = open_aws_read(table, settings=settings)
        aws_web = WebServer(aws.app(), "127.0.0.1", 0)
        aws_web.start()
        servers.append(aws_web)
        from mangum import Mangum

        handler = Mangum(api_lambda.build_app({"ENERGYMON_TABLE_NAME": table, "ENERGYMON_DEFAULT_TIMEZONE": TZ,
                                               "ENERGYMON_API_TOKEN_SHA256": _sha(TOKEN),
                                               "POWERTOOLS_LOG_LEVEL": "ERROR"}, session), lifespan="off")

        today = datetime.now(ZoneInfo(TZ)).date()
        year = f"/api/devices/{DEVICE}/energy?period=day&from={today - timedelta(days=365)}&to={today}"
        frm = (now - timedelta(hours=24)).isoformat().replace("+00:00", "Z")
        day = f"/api/devices/{DEVICE}/power?resolution=minute&from={frm}&to={now.isoformat().replace('+00:00', 'Z')}"
        with httpx.Client(timeout=60) as client:
            for name, path in (("year of daily bars", year), ("24 h of minute power", day)):
                answers = {}
                for label, base in (("local", local_web.url), ("aws serve", aws_web.url)):
                    response = client.get(base.rstrip("/") + path)
                    assert response.status_code == 200, response.text
                    answers[label] = len(response.json().get("periods") or response.json().get("points") or [])
                    runs = SLOW_RUNS if label != "local" and path == year else RUNS
                    timings = _time(lambda b=base, p=path: client.get(b.rstrip("/") + p), runs)
                    print(f"{name:22s} {label:11s} {_percentiles(timings)}  ({answers[label]} rows, n={runs})")
                lambda_event = _event(path)
                assert handler(lambda_event(), None)["statusCode"] == 200
                runs = SLOW_RUNS if path == year else RUNS
                print(f"{name:22s} {'aws lambda':11s} {_percentiles(_time(lambda e=lambda_event: handler(e(), None), runs))}"
                      f"  (n={runs})")
    finally:
        for server in servers:
            server.stop()
        moto.terminate()
        try:
            moto.wait(10)
        except subprocess.TimeoutExpired:  # a busy moto can ignore SIGTERM for a while
            moto.kill()
            moto.wait(10)


def _sha(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()


def _event(target: str) -> Any:
    path, _, query = target.partition("?")

    def make() -> dict[str, Any]:
        return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
                "headers": {"host": "x.execute-api.us-east-1.amazonaws.com", "x-forwarded-proto": "https",
                            "authorization": f"Bearer {TOKEN}"},
                "requestContext": {"http": {"method": "GET", "path": path, "protocol": "HTTP/1.1",
                                            "sourceIp": "192.0.2.1", "userAgent": "bench"},
                                   "stage": "$default", "requestId": "r", "routeKey": "$default"},
                "isBase64Encoded": False}
    return make


if __name__ == "__main__":
    main()
