"""``energymon cost-estimate``: both profiles priced through the real command, and bad options refused in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from energymon.runtimes.cli import app

runner = CliRunner()
SRC = Path(__file__).resolve().parents[2] / "src"


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["cost-estimate", *args])


def test_the_lean_profile_for_one_home_prints_its_lines_and_assumptions() -> None:
    result = run("--profile", "lean", "--apartments", "1")
    assert result.exit_code == 0, result.output
    assert "lean: 1 apartment(s) at 1 Hz" in result.stdout
    assert "ReceiveMessage" in result.stdout and "Kinesis" not in result.stdout
    assert "SQS pollers" in result.stdout


def test_the_json_output_carries_profile_total_and_assumptions() -> None:
    result = run("--profile", "fleet", "--apartments", "1000", "--format", "json")
    assert result.exit_code == 0, result.output
    body = orjson.loads(result.stdout)
    assert body["profile"] == "fleet" and body["apartments"] == 1000
    assert body["total_usd"] == pytest.approx(sum(line["monthly_usd"] for line in body["lines"]), abs=0.01)
    assert {"name": "messages per batch", "value": pytest.approx(100), "unit": "messages"} in body["assumptions"]


def test_the_existing_options_still_work_and_default_to_the_fleet() -> None:
    result = run("--apartments", "10", "--shards", "2", "--dashboard-visits", "0", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "Kinesis,2 provisioned shard(s),1440.0,shard-hours,21.6" in result.stdout
    assert "read API" not in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["--profile", "cheap"], "unknown profile 'cheap': choose fleet or lean"),
    (["--profile", "lean", "--metrics-mode", "statsd"],
     "unknown metrics mode 'statsd': choose emf, emf_lean, log_filters, logs_only"),
    (["--apartments", "0"], "apartments must be at least 1 (got 0)"),
    (["--apartments", "-5"], "apartments must be at least 1 (got -5)"),
    (["--profile", "lean", "--archive-interval", "2"], "archive interval must be 5-1440 minutes (got 2)"),
    (["--archive-mode", "hourly"], "unknown archive mode 'hourly': choose per_batch, scheduled"),
    (["--publish-interval", "0.1"], "publish interval must be 1-3600 s (got 0.1)"),
    (["--sample-hz", "0"], "sample rate must be in (0, 10] Hz (got 0)"),
    (["--shards", "0"], "shards must be at least 1 (got 0)"),
    (["--dashboard-visits", "-1"], "dashboard visits per day cannot be negative (got -1)"),
])
def test_a_bad_option_is_refused_with_one_line_naming_it(args: list[str], message: str) -> None:
    # GIVEN the command WHEN an option is out of range
    result = run(*args)
    # THEN it exits 2 with exactly one line on stderr, saying what is wrong, and prints no bill
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"error: cost-estimate: {message}"]
    assert result.stdout == ""


def test_an_unknown_profile_is_one_line_from_the_installed_command_too() -> None:
    # GIVEN the real command in its own process, on a narrow terminal (rich would wrap a long line)
    env = {**os.environ, "PYTHONPATH": str(SRC), "COLUMNS": "40"}
    done = subprocess.run([sys.executable, "-m", "energymon.runtimes.cli", "cost-estimate", "--profile", "tiny"],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["error: cost-estimate: unknown profile 'tiny': choose fleet or lean"]
