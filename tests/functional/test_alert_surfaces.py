"""Alerts through the settings, the local composition, the CLI, the API (OpenAPI) and Prometheus."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from energymon.api import ApiOptions, create_app
from energymon.config import load_settings
from energymon.domain.reading import parse_ts
from energymon.errors import ConfigError
from energymon.runtimes.cli import app
from energymon.runtimes.local import LocalAdapters
from functional.alert_rig import Rig, steady

CONFIG = """
data_dir = "{data}"

[[alerts.rules]]
name = "kettle-left-on"
kind = "power_above"
device = "apt-1"
threshold_w = 2000
clear_w = 1800
for_s = 60
channels = ["hook"]

[[alerts.rules]]
name = "freezer-silent"
kind = "no_data"
device = "freezer-9"
for_s = 600
channels = ["hook"]

[[alerts.channels]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:9000/alerts"
"""
T = parse_ts("2026-11-27T12:00:00Z")


def write_config(tmp_path: Path, text: str = CONFIG) -> Path:
    path = tmp_path / "energymon.toml"
    path.write_text(text.format(data=tmp_path / "data"))
    return path


@pytest.mark.parametrize(("change", "message"), [
    (("threshold_w = 2000", 'threshold_w = "2000"'),
     "alerts.rules[0].threshold_w: '2000' is not a power"),
    (('channels = ["hook"]\n\n[[alerts.rules]]\nname = "freezer', 'channels = ["pager"]\n\n[[alerts.rules]]\n'
                                                                'name = "freezer'),
     "alerts.rules[0].channels[0]: unknown channel 'pager' (defined in [[alerts.channels]]: hook)"),
    (('kind = "power_above"', 'kind = "power_sideways"'), "alerts.rules[0].kind: unknown kind 'power_sideways'"),
    (('kind = "webhook"', 'kind = "pigeon"'), "alerts.channels[0].kind: unknown kind 'pigeon'"),
    (("threshold_w = 2000", "threshold = 2000"), "alerts.rules[0].threshold: a value needs its unit"),
])
def test_given_a_bad_rule_or_channel_when_settings_load_then_they_are_refused_naming_the_key(
        tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = write_config(tmp_path, CONFIG.replace(*change, 1))
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert message in str(caught.value)
    result = CliRunner().invoke(app, ["alerts", "list", "--config", str(path)])
    assert result.exit_code == 2 and message.partition(":")[0] in result.output \
        and "Traceback" not in result.output


@pytest.fixture
def fired(tmp_path: Path) -> tuple[Path, LocalAdapters]:
    """A data directory where the kettle rule fired (and a resolve is not yet due)."""
    path = write_config(tmp_path)
    adapters = LocalAdapters(load_settings(path))
    rig = Rig.over(adapters.processor)  # the local composition's processor, with its alert hook
    for s in steady("apt-1", T, T + 150_000, lambda t: 2400.0):
        rig.send("apt-1", [s], s.ts_ms + 1_000)
    return path, adapters


def test_given_a_fired_rule_when_alerts_list_then_states_per_device_and_the_waiting_outbox(
        fired: tuple[Path, LocalAdapters]) -> None:
    path, _ = fired
    result = CliRunner().invoke(app, ["alerts", "list", "--config", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    kettle = next(line for line in lines if "kettle-left-on" in line)
    freezer = next(line for line in lines if "freezer-silent" in line)
    assert "apt-1" in kettle and "firing" in kettle and "2400 W" in kettle and "2000 W" in kettle
    assert "freezer-9" in freezer and "no data yet" in freezer
    assert "outbox: 1 notification(s) waiting for delivery, 0 failing" in result.output


def test_given_a_failing_channel_when_alerts_list_then_the_failure_is_shown(fired: tuple[Path, LocalAdapters]) -> None:
    path, adapters = fired
    [item] = adapters.alerts.pending()
    adapters.alerts.failed(item.key, item.channel, "HTTP 500 from http://127.0.0.1:9000/alerts", 10**10)
    result = CliRunner().invoke(app, ["alerts", "list", "--config", str(path)], env={"COLUMNS": "200"})
    assert "1 failing" in result.output and "HTTP 500" in result.output and "after 1 attempt(s)" in result.output


def test_given_a_fired_rule_when_alerts_history_then_the_notification_is_listed(
        fired: tuple[Path, LocalAdapters]) -> None:
    path, _ = fired
    result = CliRunner().invoke(app, ["alerts", "history", "--device", "apt-1", "--config", str(path)],
                                env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "kettle-left-on" in result.output and "firing" in result.output and "2026-11-27T12:00:00" in result.output
    unknown = CliRunner().invoke(app, ["alerts", "history", "--device", "apt-7", "--config", str(path)])
    assert unknown.exit_code == 2 and "unknown device 'apt-7' (known: apt-1)" in unknown.output


def test_given_a_fired_rule_when_api_alerts_then_active_and_recent_in_the_schema(
        fired: tuple[Path, LocalAdapters]) -> None:
    _, adapters = fired
    options = ApiOptions(adapters.zones, registry=adapters.metrics.registry)
    options.alerts = adapters.alert_evaluator
    with TestClient(create_app(adapters.store, options)) as client:
        body = client.get("/api/alerts").json()
        assert body["configured"] is True
        [active] = body["active"]
        assert (active["rule"], active["device_id"], active["state"], active["value"], active["started_at"]) == (
            "kettle-left-on", "apt-1", "firing", 2400.0, "2026-11-27T12:00:00+00:00")
        [recent] = body["recent"]
        assert recent["key"] == f"kettle-left-on/apt-1/{T}/firing" and recent["state"] == "firing"
        assert client.get("/api/alerts", params={"device": "apt-2"}).json()["active"] == []
        assert client.get("/api/alerts", params={"limit": 0}).status_code == 422
        schema = client.get("/openapi.json").json()
        assert "/api/alerts" in schema["paths"] and "AlertIncident" in schema["components"]["schemas"]
        metrics = client.get("/metrics").text
        assert 'energymon_alerts_firing{device="apt-1",rule="kettle-left-on"} 1.0' in metrics
        assert 'energymon_alert_outbox_pending{channel="hook"} 1.0' in metrics


def test_given_no_alerts_when_api_alerts_then_it_says_so(tmp_path: Path) -> None:
    from energymon.adapters.local.store import SqliteStore

    with TestClient(create_app(SqliteStore(tmp_path / "s.db"))) as client:
        assert client.get("/api/alerts").json() == {"configured": False, "active": [], "recent": []}
