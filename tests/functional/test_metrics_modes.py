"""METRICS_MODE: each mode emits what it says, from the real handler's own metrics.

GIVEN the processor built with the adapter a mode names, WHEN it handles a batch with good and rejected records,
THEN emf writes every metric as EMF, emf_lean only the three lean metrics without labels, and log_filters no EMF
but one JSON line per metric, which the metric filters of modules/processor match.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from energymon.adapters.aws.emf_metrics import LEAN_METRICS, METRIC_LOG_KEY, METRICS_MODES, metrics_for_mode
from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.store import SqliteStore
from energymon.errors import ConfigError
from energymon.processing.processor import Processor
from functional.test_processor import NOW_S, load

PROCESSOR_MODULE = Path(__file__).parents[2] / "infra" / "terraform" / "modules" / "processor"


def handled(mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The JSON lines the function writes to stdout (its log events) while handling one batch."""
    event = copy.deepcopy(load("sqs_two_devices.json"))
    event["Records"].append({**event["Records"][0], "messageId": "m-bad", "body": "{not json"})
    processor = Processor(SqliteStore(tmp_path / "s.db"), FolderArchive(tmp_path / "a"),
                          SqliteDeadLetters(tmp_path / "d.db"), metrics_for_mode(mode, "Energymon", "home"),
                          clock=lambda: NOW_S)
    capsys.readouterr()
    assert processor.handle(event, None) == {"batchItemFailures": []}
    return [orjson.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def emf_names(lines: list[dict[str, Any]]) -> set[str]:
    return {d["Name"] for line in lines if "_aws" in line
            for m in line["_aws"]["CloudWatchMetrics"] for d in m["Metrics"]}


def test_given_emf_then_every_metric_is_emf_and_rejections_carry_their_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = handled("emf", tmp_path, capsys)
    assert emf_names(lines) == LEAN_METRICS  # this batch has no failures: those metrics are counted when they occur
    assert next(line for line in lines if "readings_rejected" in line)["reason"] == "not_json"


def test_given_emf_lean_then_only_the_three_lean_metrics_without_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = handled("emf_lean", tmp_path, capsys)
    assert emf_names(lines) == LEAN_METRICS
    # One EMF blob, dimension "service" only: three custom metrics whatever the rejection reasons are.
    [blob] = [line for line in lines if "_aws" in line]
    assert blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert "reason" not in blob and sum(blob["readings_processed"]) == 36 and blob["readings_rejected"] == [1.0]


def test_given_emf_lean_when_a_metric_outside_the_lean_set_is_counted_then_nothing_is_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    metrics = metrics_for_mode("emf_lean", "Energymon", "home")
    metrics.count("device_write_failures", 1)
    metrics.count("alert_notifications", 1, rule="r", state="firing")
    metrics.flush()
    assert "{" not in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["log_filters", "logs_only"])
def test_given_log_filters_or_logs_only_then_no_emf_and_one_json_line_per_metric(
    mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = handled(mode, tmp_path, capsys)
    assert emf_names(lines) == set()
    metric_lines = {line[METRIC_LOG_KEY]: line for line in lines if METRIC_LOG_KEY in line}
    assert set(metric_lines) == LEAN_METRICS
    assert metric_lines["readings_processed"]["value"] == 36
    assert metric_lines["readings_rejected"] == {METRIC_LOG_KEY: "readings_rejected", "value": 1, "unit": "Count",
                                                 "service": "home", "reason": "not_json"}
    assert metric_lines["batch_seconds"]["unit"] == "Seconds" and metric_lines["batch_seconds"]["value"] > 0


def test_given_the_terraform_metric_filters_then_each_lean_metric_has_one_matching_the_log_lines() -> None:
    """The filters in modules/processor select lines by $.energymon_metric and publish $.value: the same names."""
    text = "\n".join(p.read_text() for p in sorted(PROCESSOR_MODULE.glob("*.tf")))
    assert f"$.{METRIC_LOG_KEY}" in text
    filtered = set(re.findall(r'^\s*(\w+)\s*=\s*\{\s*unit\s*=\s*"(?:Count|Seconds)"', text, re.M))
    assert filtered == LEAN_METRICS
    # only log_filters turns the lines into custom metrics: logs_only must create none
    assert 'var.metrics_mode == "log_filters" ?' in text


def test_given_an_unknown_metrics_mode_then_the_error_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="METRICS_MODE 'prometheus' is not one of emf, emf_lean, log_filters, logs_only"):
        metrics_for_mode("prometheus", "Energymon", "home")
    assert METRICS_MODES == ("emf", "emf_lean", "log_filters", "logs_only")
