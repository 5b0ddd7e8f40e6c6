"""The scheduled alert handler's composition: its environment contract with Terraform, the settings document it
reads from S3 (moto server), and the clear errors it gives for bad input."""

from __future__ import annotations

import hashlib
import re
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from energymon.errors import ConfigError
from energymon.runtimes import lambda_handler

pytestmark = pytest.mark.integration

ALERTS_MODULE = Path(__file__).resolve().parents[3] / "infra" / "terraform" / "modules" / "alerts"
TOPIC = "arn:aws:sns:us-east-1:123456789012:energymon-consumption-alerts"


def test_given_the_alerts_module_then_it_sets_exactly_what_the_scheduled_handler_reads() -> None:
    text = (ALERTS_MODULE / "main.tf").read_text()
    block = re.search(r"environment_variables\s*=\s*\{(.*?)\n  \}", text, re.S)
    assert block, "no environment_variables = {...} in modules/alerts/main.tf"
    names = set(re.findall(r"\b([A-Z][A-Z0-9_]+)\s*=", block.group(1)))
    assert names == set(lambda_handler.SCHEDULED_ENVIRONMENT)
    assert re.search(r"handler\s*=\s*var\.handler", text)
    variables = (ALERTS_MODULE / "variables.tf").read_text()
    assert '"energymon.runtimes.lambda_handler.scheduled_handler"' in variables
    assert callable(lambda_handler.scheduled_handler)


def environment(table: str, bucket: str, document: bytes = b"{}", key: str = "config/settings.json") -> dict[str, str]:
    return {"ENERGYMON_TABLE_NAME": table, "ENERGYMON_ARCHIVE_BUCKET": bucket, "ENERGYMON_SETTINGS_KEY": key,
            "ENERGYMON_SETTINGS_SHA256": hashlib.sha256(document).hexdigest(), "POWERTOOLS_SERVICE_NAME": "energymon",
            "POWERTOOLS_METRICS_NAMESPACE": "Energymon", "POWERTOOLS_LOG_LEVEL": "INFO"}


@pytest.fixture
def bucket(client: Any) -> str:
    name = f"energymon-{uuid.uuid4().hex[:8]}"
    client("s3").create_bucket(Bucket=name)
    return name


def test_given_a_settings_document_when_built_then_its_rules_and_sns_channel_are_used(
        client: Any, new_table: Any, bucket: str, session: Any) -> None:
    document = {"alerts": {"rules": [{"name": "meter-offline", "kind": "no_data", "device": "*", "for_s": 300,
                                      "channels": ["phone"]}],
                           "channels": [{"name": "phone", "kind": "sns", "topic_arn": TOPIC}]},
                "timezone": "Europe/Berlin"}
    body = orjson.dumps(document)
    client("s3").put_object(Bucket=bucket, Key="config/settings.json", Body=body)
    adapters = lambda_handler.build_scheduled(environment(new_table(), bucket, body), session)
    assert adapters.evaluator is not None and [r.name for r in adapters.evaluator.rules] == ["meter-offline"]
    assert list(adapters.dispatcher.channels) == ["phone"]
    # WHEN it ticks over an empty table THEN nothing is noticed or sent, and nothing fails
    report = lambda_handler.run_scheduled(adapters, lambda_handler.scheduled_time(
        {"time": "2026-12-02T01:00:00Z", "detail-type": "Scheduled Event"}))
    assert report == {"notifications": [], "sent": 0, "failed": 0, "deferred": 0, "errors": {}}


@pytest.mark.parametrize(("document", "message"), [
    (b"{not json", "is not valid JSON"),
    (b"[]", "must be a JSON object"),
    (orjson.dumps({"alerts": {"rules": [{"name": "x", "kind": "power_sideways", "channels": []}]}}),
     r"alerts\.rules.*power_sideways"),
    (orjson.dumps({"alerts": {"rules": [{"name": "x", "kind": "no_data", "device": "*", "for_s": 60,
                                         "channels": ["pager"]}]}}), "pager"),
    (orjson.dumps({"alerts": {"channels": [{"name": "phone", "kind": "sns", "topic_arn": "my-topic"}]}}),
     "not an SNS topic ARN"),
])
def test_given_a_bad_settings_document_when_built_then_the_error_names_the_problem(
        client: Any, new_table: Any, bucket: str, session: Any, document: bytes, message: str) -> None:
    client("s3").put_object(Bucket=bucket, Key="config/settings.json", Body=document)
    with pytest.raises(ConfigError, match=message):
        lambda_handler.build_scheduled(environment(new_table(), bucket, document), session)


def test_given_no_settings_object_when_built_then_the_error_names_the_object(
        new_table: Any, bucket: str, session: Any) -> None:
    with pytest.raises(ConfigError, match=rf"settings document s3://{bucket}/config/settings.json cannot be read"):
        lambda_handler.build_scheduled(environment(new_table(), bucket), session)


def test_given_a_missing_variable_when_built_then_the_error_names_it() -> None:
    env = environment("t", "b")
    del env["ENERGYMON_SETTINGS_KEY"]
    with pytest.raises(ConfigError, match="ENERGYMON_SETTINGS_KEY is not set"):
        lambda_handler.build_scheduled(env)


@pytest.mark.parametrize("event", [{}, {"time": 1700000000}, {"time": "yesterday"}])
def test_given_an_event_without_a_usable_time_when_handled_then_the_error_says_so(event: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="scheduled event"):
        lambda_handler.scheduled_handler(event, None)


def test_given_a_scheduled_event_time_then_it_is_read_as_utc() -> None:
    assert lambda_handler.scheduled_time({"time": "2026-12-02T01:00:00Z"}) == 1_796_173_200.0
