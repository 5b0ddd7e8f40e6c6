"""The Lambda handler built from its environment, driven by the local ShardPoller over a moto Kinesis stream."""

from __future__ import annotations

import gzip
import hashlib
import re
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from energymon.adapters.aws.kinesis_stream import KinesisStream
from energymon.adapters.aws.settings_object import SETTINGS_KEY, publish_shared_settings
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.poller import EventSourceMapping, ShardPoller
from energymon.adapters.mqtt.bridge import canonical_to_record
from energymon.domain.reading import encode_message, telemetry_topic
from energymon.domain.simulation import Apartment
from energymon.errors import ConfigError
from energymon.runtimes import lambda_handler
from energymon.shared_settings import SharedSettings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
PROCESSOR_MODULE = ROOT / "infra" / "terraform" / "modules" / "processor"


def terraform_environment_keys(module: Path) -> set[str]:
    """Keys of the function's ``environment { variables = ... }`` (inline map or a ``local.*`` map)."""
    text = "\n".join(p.read_text() for p in sorted(module.glob("*.tf")))
    block = re.search(r"environment\s*\{\s*variables\s*=\s*(\{.*?\}|local\.(\w+))", text, re.S)
    assert block, f"no environment {{ variables = ... }} block in {module}/*.tf"
    body = block.group(1)
    if block.group(2):
        local = re.search(rf"\b{block.group(2)}\s*=\s*(\{{.*?\}})", text, re.S)
        assert local, f"local.{block.group(2)} is not defined in {module}/*.tf"
        body = local.group(1)
    return set(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=", body, re.M))


def test_given_the_terraform_module_then_it_sets_exactly_what_the_handler_reads() -> None:
    assert PROCESSOR_MODULE.is_dir(), (
        f"{PROCESSOR_MODULE} does not exist: the processor module must set the handler's environment"
    )
    assert terraform_environment_keys(PROCESSOR_MODULE) == set(lambda_handler.ENVIRONMENT) | set(
        lambda_handler.OPTIONAL_ENVIRONMENT)


@pytest.mark.parametrize(("value", "reason"), [
    ("30", "30 days is shorter than the processor's recompute reach"),
    ("0", "must be a positive number of days"),
    ("ninety", "'ninety' is not a number of days"),
])
def test_given_a_bad_raw_retention_then_the_handler_refuses_it_with_the_reason(value: str, reason: str) -> None:
    env = {**dict.fromkeys(lambda_handler.ENVIRONMENT, "x"), "ENERGYMON_RAW_RETENTION_DAYS": value}
    with pytest.raises(ConfigError, match=f"ENERGYMON_RAW_RETENTION_DAYS: .*{reason}"):
        lambda_handler.build(env)


def test_given_a_missing_variable_then_the_error_names_it() -> None:
    env = dict.fromkeys(lambda_handler.ENVIRONMENT, "x")
    del env["ENERGYMON_ARCHIVE_BUCKET"]
    with pytest.raises(ConfigError, match="ENERGYMON_ARCHIVE_BUCKET"):
        lambda_handler.build(env)


def lambda_environment(s3: Any, table: str, bucket: str, topic: str,
                       shared: SharedSettings | None = None) -> dict[str, str]:
    """The function's environment, with the shared settings document written where Terraform writes it."""
    key, digest = publish_shared_settings(s3, bucket, shared or SharedSettings(timezone="Europe/Berlin"))
    return {
        "ENERGYMON_TABLE_NAME": table,
        "ENERGYMON_ARCHIVE_BUCKET": bucket,
        "ENERGYMON_ALERT_TOPIC_ARN": topic,
        "ENERGYMON_SETTINGS_KEY": key,
        "ENERGYMON_SETTINGS_SHA256": digest,
        "POWERTOOLS_SERVICE_NAME": "energymon",
        "POWERTOOLS_METRICS_NAMESPACE": "energymon",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


def run_pipeline(client: Any, session: Any, stream: str, env: dict[str, str], batch_size: int = 100,
                 window_s: float = 10.0) -> Any:
    """Publish two apartments' canonical records (as the topic rule would), poll them through the handler."""
    kinesis = KinesisStream(stream, env["ENERGYMON_TABLE_NAME"], client=client("kinesis"),
                            dynamodb_client=client("dynamodb"))
    now_ms = int(time.time() * 1000)  # recent: the handler refuses readings weeks older than their arrival
    t0 = now_ms - now_ms % 3_600_000 - 3_600_000
    records = []
    for device in ("apt-1", "apt-2"):
        readings = list(Apartment(device, 3, "Europe/Berlin").samples(t0, 300))
        for i in range(0, 300, 10):
            payload = encode_message(device, i, readings[i : i + 10])
            records.append(canonical_to_record(telemetry_topic(device), payload))
    records.append(("apt-9", b"not json"))
    kinesis.put_records(records)
    adapters = lambda_handler.build(env, session=session)
    mapping = EventSourceMapping(batch_size=batch_size, batching_window_s=window_s)
    for shard in kinesis.shard_ids():
        poller = ShardPoller(kinesis, shard, adapters.processor.handle, mapping, adapters.dead_letters,
                             PrometheusMetrics(), sleep=lambda _: None)
        poller.drain()
    assert kinesis.lag("processor") == 0
    return adapters, t0


def test_given_records_in_kinesis_when_polled_through_the_handler_then_dynamodb_and_s3_hold_them(
    client: Any, session: Any, stream: str, table: str, bucket: str, topic: str
) -> None:
    env = lambda_environment(client("s3"), table, bucket, topic)
    adapters, t0 = run_pipeline(client, session, stream, env)
    summaries = {d.device_id: d for d in adapters.store.devices()}
    assert {k: v.readings for k, v in summaries.items()} == {"apt-1": 300, "apt-2": 300}
    minutes = adapters.store.periods("apt-1", "minute", t0, t0 + 3_600_000, "Europe/Berlin")
    assert len(minutes) == 5 and sum(m.samples for m in minutes) == 300
    hours = adapters.store.periods("apt-1", "hour", t0, t0 + 3_600_000, "Europe/Berlin")
    assert sum(h.import_kwh for h in hours) == pytest.approx(sum(m.import_kwh for m in minutes)) and hours
    s3 = client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    raw = [k for k in keys if k.startswith("raw/date=")]
    rows = [orjson.loads(line) for k in raw
            for line in gzip.decompress(s3.get_object(Bucket=bucket, Key=k)["Body"].read()).splitlines()]
    assert sum(1 for row in rows if row["device_id"] == "apt-1") == 300
    [letter] = adapters.dead_letters.recent(5)
    assert letter.code == "not_json" and any(k.startswith("rejected/") for k in keys)
    # Replaying the whole stream (a new consumer from TRIM_HORIZON) changes nothing.
    before = adapters.store.periods("apt-1", "minute", t0, t0 + 3_600_000, "Europe/Berlin")
    kinesis = KinesisStream(stream, table, client=client("kinesis"), dynamodb_client=client("dynamodb"))
    for shard in kinesis.shard_ids():
        ShardPoller(kinesis, shard, adapters.processor.handle, EventSourceMapping(batch_size=7),
                    adapters.dead_letters, PrometheusMetrics(), consumer="replay", sleep=lambda _: None).drain()
    assert adapters.store.periods("apt-1", "minute", t0, t0 + 3_600_000, "Europe/Berlin") == before
    assert adapters.store.devices()[0].readings == 300


def test_given_a_settings_document_changed_outside_terraform_then_the_cold_start_refuses_it(
    client: Any, session: Any, table: str, bucket: str, topic: str
) -> None:
    # GIVEN the environment names one document's hash, and the object is then replaced by another
    env = lambda_environment(client("s3"), table, bucket, topic)
    publish_shared_settings(client("s3"), bucket, SharedSettings(timezone="Asia/Tokyo"))
    # WHEN the container starts THEN it refuses to run with settings Terraform did not render
    with pytest.raises(ConfigError, match=r"settings document s3://.*config/settings\.json has SHA-256 .* but "
                                          r"ENERGYMON_SETTINGS_SHA256 is"):
        lambda_handler.build(env, session=session)


@pytest.mark.parametrize(("body", "message"), [
    (b'{"timezone": "Mars/Olympus"}', r"timezone: Value error, unknown time zone"),
    (b'{"devices": {"apt-1": {"max_power_w": -1}}}', r"devices\.apt-1\.max_power_w: Input should be greater than 0"),
    (b'{"devices": {"apt-1": {"max_power": 10}}}', r"devices\.apt-1\.max_power: Extra inputs are not permitted"),
    (b'{"alerts": {"rules": [{"name": "x", "kind": "sparks"}]}}', r"alerts.rules\[0\].kind"),
    (b'{"devices": {"bad id": {}}}', r"devices: Value error, device id 'bad id' is not valid"),
    (b"[1, 2]", r"must be a JSON object, not list"),
    (b"{not json", r"is not valid JSON"),
])
def test_given_a_bad_settings_document_then_the_cold_start_names_the_key(
    client: Any, session: Any, table: str, bucket: str, topic: str, body: bytes, message: str
) -> None:
    env = lambda_environment(client("s3"), table, bucket, topic)
    client("s3").put_object(Bucket=bucket, Key=SETTINGS_KEY, Body=body)
    env["ENERGYMON_SETTINGS_SHA256"] = hashlib.sha256(body).hexdigest()
    with pytest.raises(ConfigError, match=message):
        lambda_handler.build(env, session=session)


def test_given_no_settings_object_then_the_cold_start_says_which_object_is_missing(
    client: Any, session: Any, table: str, bucket: str, topic: str
) -> None:
    env = lambda_environment(client("s3"), table, bucket, topic)
    env["ENERGYMON_SETTINGS_KEY"] = "config/missing.json"
    with pytest.raises(ConfigError, match=r"settings document s3://.*/config/missing\.json cannot be read "
                                          r"\(NoSuchKey"):
        lambda_handler.build(env, session=session)
