"""Reading a deployed stack: `energymon query|dead-letters|serve --aws-table` on a moto server over HTTP.

GIVEN the same readings fed to the Lambda handler (DynamoDB + S3 on moto) and to a local processor (SQLite),
the CLI and the API over the AWS read adapters give exactly the local runtime's numbers; a missing table,
a wrong region, missing credentials and an unreachable endpoint each get one line naming which, exit 1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import readside
from energymon.adapters.mqtt.broker import free_port
from energymon.runtimes import lambda_handler

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

REGION = "us-east-1"  # the region of the aws conftest's session (tests/integration/aws/conftest.py)


def create_table(ddb: Any) -> str:
    """A table shaped like Terraform's (pk/sk strings, on demand), as the aws conftest makes them."""
    name = f"energymon-read-{uuid.uuid4().hex[:8]}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    return name

SRC = Path(__file__).resolve().parents[3] / "src"


@pytest.fixture(scope="module")
def stack(session: Any, moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """GIVEN the handler's writes in a moto table and bucket, and the same readings in a local data dir."""
    ddb = session.client("dynamodb")
    table = create_table(ddb)
    bucket = f"energymon-read-{table[-8:]}"
    session.client("s3").create_bucket(Bucket=bucket)
    topic = session.client("sns").create_topic(Name=f"t-{table[-8:]}")["TopicArn"]
    batches = readside.events(readside.t0())
    bad = {"Records": [{**batches[0]["Records"][0], "kinesis": {**batches[0]["Records"][0]["kinesis"],
                                                               "data": "bm90IGpzb24=", "sequenceNumber": "9"}}]}
    tmp = tmp_path_factory.mktemp("read")
    local_config, aws_config = readside.write_configs(tmp)
    settings = readside.publish_settings(session.client("s3"), bucket, local_config)
    adapters = lambda_handler.build(readside.lambda_env(table, bucket, topic, settings), session)
    readside.feed(adapters.processor.handle, [*batches, bad])  # one rejected record: a dead letter in S3
    readside.fill_local(tmp / "data", local_config, batches)
    return {"table": table, "bucket": bucket, "local_config": local_config, "aws_config": aws_config,
            "data_dir": tmp / "data", "endpoint": moto_endpoint, "settings": settings}


def cli_env(endpoint: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL": endpoint, "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true",
                "PYTHONPATH": str(SRC), "COLUMNS": "200"})
    env.update(extra)
    return {k: v for k, v in env.items() if v != ""}


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "energymon.runtimes.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def query_json(stack: dict[str, Any], resolution: str, *source: str) -> dict[str, Any]:
    start = readside.t0().date()
    out = cli("query", "--device", "apt-1", "--from", start.isoformat(), "--to", (start + timedelta(days=3)).isoformat(),
              "--resolution", resolution, "--format", "json", *source, env=cli_env(stack["endpoint"]))
    assert out.returncode == 0, out.stderr
    result: dict[str, Any] = json.loads(out.stdout)
    return result


@pytest.mark.parametrize("resolution", ["day", "hour", "minute"])
def test_given_the_same_readings_then_query_aws_table_equals_the_local_query(stack: dict[str, Any],
                                                                            resolution: str) -> None:
    local = query_json(stack, resolution, "--config", str(stack["local_config"]), "--data-dir",
                       str(stack["data_dir"]))
    aws = query_json(stack, resolution, "--config", str(stack["aws_config"]), "--aws-table", stack["table"])
    assert aws["timezone"] == readside.ZONE  # from the device item the processor wrote, not the reader's config
    assert len(local["periods"]) >= 2 if resolution == "day" else len(local["periods"]) > 24
    assert aws == local


def test_given_rejected_records_then_dead_letters_lists_the_archive_bucket(stack: dict[str, Any]) -> None:
    out = cli("dead-letters", "--aws-table", stack["table"], "--aws-bucket", stack["bucket"],
              env=cli_env(stack["endpoint"]))
    assert out.returncode == 0, out.stderr
    assert "1 in all" in out.stdout and "invalid" in out.stdout.lower()


def test_given_no_bucket_then_dead_letters_says_to_pass_it(stack: dict[str, Any]) -> None:
    out = cli("dead-letters", "--aws-table", stack["table"], env=cli_env(stack["endpoint"]))
    assert out.returncode == 2 and "--aws-bucket" in out.stderr


def one_line_error(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out.stderr
    return lines[0]


def test_given_a_missing_table_then_query_names_it_and_the_region(stack: dict[str, Any]) -> None:
    line = one_line_error(cli("query", "--device", "apt-1", "--aws-table", "no-such-table",
                              env=cli_env(stack["endpoint"])))
    assert "'no-such-table' does not exist in region us-east-1" in line


def test_given_the_wrong_region_then_query_names_the_region_it_looked_in(stack: dict[str, Any]) -> None:
    env = cli_env(stack["endpoint"], AWS_DEFAULT_REGION="eu-central-1")
    line = one_line_error(cli("query", "--device", "apt-1", "--aws-table", stack["table"], env=env))
    assert "does not exist in region eu-central-1" in line and "region" in line


def test_given_no_region_then_query_says_so(stack: dict[str, Any]) -> None:
    env = cli_env(stack["endpoint"], AWS_DEFAULT_REGION="")
    line = one_line_error(cli("query", "--device", "apt-1", "--aws-table", stack["table"], env=env))
    assert "no AWS region configured" in line


def test_given_no_credentials_then_query_says_so(stack: dict[str, Any]) -> None:
    env = cli_env(stack["endpoint"], AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="")
    line = one_line_error(cli("query", "--device", "apt-1", "--aws-table", stack["table"], env=env))
    assert "no AWS credentials found" in line


def test_given_an_unreachable_endpoint_then_every_command_says_which(stack: dict[str, Any]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    env = cli_env(dead, AWS_MAX_ATTEMPTS="1")
    for args in (("query", "--device", "apt-1", "--aws-table", stack["table"]),
                 ("dead-letters", "--aws-table", stack["table"], "--aws-bucket", stack["bucket"]),
                 ("serve", "--port", "0", "--aws-table", stack["table"])):
        line = one_line_error(cli(*args, env=env))
        assert f"cannot reach the AWS endpoint {dead}" in line, args


def test_given_a_missing_bucket_then_serve_names_it(stack: dict[str, Any]) -> None:
    line = one_line_error(cli("serve", "--port", "0", "--aws-table", stack["table"], "--aws-bucket", "nope-bkt",
                              env=cli_env(stack["endpoint"])))
    assert "S3 bucket 'nope-bkt' does not exist" in line


@pytest.fixture(scope="module")
def served(stack: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """`energymon serve` twice: over the moto table and over the local data dir (free ports)."""
    procs = []
    urls = []
    for source in (("--config", str(stack["aws_config"]), "--aws-table", stack["table"], "--aws-bucket",
                    stack["bucket"]),
                   ("--config", str(stack["local_config"]), "--data-dir", str(stack["data_dir"]))):
        port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-m", "energymon.runtimes.cli", "serve", "--port", str(port),
                                       *source], env=cli_env(stack["endpoint"]),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls.append(f"http://127.0.0.1:{port}")
    try:
        for url in urls:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(url + "/api/devices", timeout=2).read()  # noqa: S310 - loopback
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        yield urls[0], urls[1]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def api_paths() -> list[str]:
    """What the dashboard asks for (bars, minute and raw power, today), plus bad parameters."""
    start = readside.t0()
    day = start.date().isoformat()
    frm = (start + timedelta(hours=10)).isoformat().replace("+00:00", "Z")
    to = (start + timedelta(hours=14)).isoformat().replace("+00:00", "Z")
    return [
        f"/api/devices/apt-1/energy?period=day&from={day}&to={(start.date() + timedelta(days=3)).isoformat()}",
        f"/api/devices/apt-1/energy?period=hour&from={day}&to={(start.date() + timedelta(days=2)).isoformat()}",
        f"/api/devices/apt-2/energy?period=month&from={day[:7]}-01&to={(start.date() + timedelta(days=40)).isoformat()}",
        f"/api/devices/apt-1/power?resolution=minute&from={frm}&to={to}",
        f"/api/devices/apt-2/power?resolution=raw&from={frm}&to={to}",
        "/api/devices/apt-1/today",
        "/api/devices/apt-1/overview",  # the main screen: cost now, comparisons, always-on, peak demand
        "/api/site/overview?nights=3",
        f"/api/site/energy?period=hour&from={day}&to={(start.date() + timedelta(days=2)).isoformat()}",
        "/api/devices/apt-1/overview?nights=0",
        "/api/devices/nope/energy",
        "/api/devices/apt-1/energy?period=fortnight",
        "/api/devices/apt-1/power?from=yesterday",
    ]


def get(url: str) -> tuple[int, Any]:
    try:
        # The site overview makes dozens of Queries; moto on a loaded 2-core machine answers them in ~25 s.
        with urllib.request.urlopen(url, timeout=120) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def steady(answer: Any) -> Any:
    """The answer without what moves with the clock between two calls: the overview's "up to now" instants."""
    if isinstance(answer, dict):
        return {k: steady(v) for k, v in answer.items() if k != "end_ms"}
    if isinstance(answer, list | tuple):
        return [steady(v) for v in answer]
    return answer


def agreeing(first: Any, second: Any, attempts: int = 3) -> tuple[Any, Any]:
    """Both answers, asked again when they differ: the overview's "so far today" and "same time yesterday" are cut
    at the current minute, and one call over moto can take long enough for the minute to turn between the two.
    A real difference stays through every attempt."""
    for _ in range(attempts):
        a, b = first(), second()
        if steady(a) == steady(b):
            break
    return a, b


def test_given_serve_aws_table_then_every_api_answer_equals_the_local_one(served: tuple[str, str]) -> None:
    aws, local = served
    statuses = set()
    for path in api_paths():
        got, expected = agreeing(lambda: get(aws + path), lambda: get(local + path))  # noqa: B023 - called here
        assert steady(got) == steady(expected), path
        statuses.add(got[0])
    assert 200 in statuses and 404 in statuses and statuses & {400, 422}, statuses
    devices_aws, devices_local = get(aws + "/api/devices")[1], get(local + "/api/devices")[1]
    strip = [{k: v for k, v in d.items() if k != "last_seen_age_s"} for d in devices_aws]
    assert strip == [{k: v for k, v in d.items() if k != "last_seen_age_s"} for d in devices_local]
    assert [d["timezone"] for d in devices_aws] == [readside.ZONE] * len(readside.DEVICES)


def test_given_serve_aws_table_then_the_per_device_gauges_equal_the_local_ones(served: tuple[str, str]) -> None:
    """The Grafana dashboard's gauges (grafana/) read the same from DynamoDB as from SQLite."""
    from prometheus_client.parser import text_string_to_metric_families

    def gauges(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        with urllib.request.urlopen(url + "/metrics", timeout=30) as response:  # noqa: S310 - loopback
            text = response.read().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples
                if s.name.startswith("energymon_device_") and s.name != "energymon_device_online"}

    aws, local = served
    got, expected = gauges(aws), gauges(local)
    assert got == expected
    lifetime = {labels: v for (name, labels), v in got.items() if name == "energymon_device_energy_kwh"}
    assert len(lifetime) == 2 * len(readside.DEVICES) and all(v > 0 for labels, v in lifetime.items()
                                                              if ("direction", "import") in labels)
    assert any(name == "energymon_device_cost_today" for name, _ in got)


def test_given_serve_aws_table_then_the_csv_download_equals_the_local_one(served: tuple[str, str]) -> None:
    aws, local = served
    day = readside.t0().date()
    path = f"/api/site/energy.csv?period=hour&from={day.isoformat()}&to={(day + timedelta(days=2)).isoformat()}"
    texts = []
    for base in (aws, local):
        with urllib.request.urlopen(base + path, timeout=30) as response:  # noqa: S310 - loopback
            texts.append(response.read().decode())
    assert texts[0] == texts[1]
    assert texts[0].count("\n") > 2 * 24  # a header and both devices' hours
