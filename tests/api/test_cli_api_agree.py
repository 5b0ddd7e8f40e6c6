"""GIVEN one store with known data (a DST day, a day without data, a tariff with a night window and a price change),
WHEN the same device, range and resolution are asked of ``energymon query`` and of the HTTP API,
THEN both give identical kWh, cost, peak, samples and gap flags for every period."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
from apidata import ZONES, seed

from energymon.adapters.local.store import SqliteStore
from energymon.api import ApiOptions, create_app
from energymon.config import load_settings

CONFIG = """
timezone = "UTC"

[device_timezones]
apt-1 = "Europe/Berlin"
apt-2 = "UTC"

[tariff]
currency = "EUR"

[[tariff.periods]]
from = 2026-01-01
standing_charge_per_day = "0.50"
price_per_kwh = "0.30"
windows = [{ days = "all", start = "00:00", end = "06:00", price_per_kwh = "0.10" }]

[[tariff.periods]]
from = 2026-03-29
standing_charge_per_day = "0.60"
price_per_kwh = "0.40"
"""

QUERIES = [  # (resolution, from, to): Berlin local times; 29 March 2026 is the 23-hour spring-forward day
    ("day", "2026-03-27", "2026-03-30"),
    ("hour", "2026-03-29", "2026-03-29T12:00"),
    ("hour", "2026-03-27T04:00", "2026-03-27T08:00"),  # across the end of the night window
    ("minute", "2026-03-27T23:58", "2026-03-28T00:02"),  # into the day without data
    ("month", "2026-02-01", "2026-04-01"),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data_dir = tmp_path_factory.mktemp("agree")
    seed(SqliteStore(data_dir / "store.db"))
    config = data_dir / "energymon.toml"
    config.write_text(CONFIG)
    return data_dir, config


@pytest.fixture(scope="module")
def api(data: tuple[Path, Path]):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    data_dir, config = data
    settings = load_settings(config, data_dir=data_dir)
    app = create_app(SqliteStore(data_dir / "store.db"), ApiOptions(ZONES.__getitem__, tariff=settings.tariff_model()))
    with TestClient(app) as client:
        yield client


def cli_query(data: tuple[Path, Path], resolution: str, start: str, end: str) -> dict[str, Any]:
    data_dir, config = data
    out = subprocess.run(
        [sys.executable, "-m", "energymon.runtimes.cli", "query", "--device", "apt-1", "--config", str(config),
         "--data-dir", str(data_dir), "--from", start, "--to", end, "--resolution", resolution, "--format", "json"],
        capture_output=True, check=True, timeout=60,
    )
    return orjson.loads(out.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize(("resolution", "start", "end"), QUERIES)
def test_the_cli_and_the_api_give_identical_numbers(data, api, resolution: str, start: str, end: str) -> None:
    # WHEN both are asked the same question
    cli = cli_query(data, resolution, start, end)
    body = api.get("/api/devices/apt-1/energy", params={"period": resolution, "from": start, "to": end}).json()
    # THEN they agree on the zone and the currency
    assert (cli["timezone"], cli["currency"]) == (body["timezone"], body["currency"]) == ("Europe/Berlin", "EUR")
    api_periods = {p["start"]: p for p in body["periods"]}
    assert cli["periods"], "the query should find stored periods"
    # AND every period the CLI lists has the API's kWh, cost, peak, samples and gap minutes
    for row in cli["periods"]:
        same = api_periods[row["period"]]
        assert row["import_kwh"] == same["import_kwh"]
        assert row["export_kwh"] == same["export_kwh"]
        assert float(row["cost"]) == same["cost"]
        assert (row["peak_power_w"], row["samples"]) == (same["peak_power_w"], same["samples"])
        assert row["gap_minutes"] == same["gap_minutes"]
        assert same["gap"] == (row["gap_minutes"] > 0)
    # AND the periods the CLI leaves out are exactly those the API flags as gaps without data
    missing = set(api_periods) - {row["period"] for row in cli["periods"]}
    assert all(api_periods[k]["gap"] and api_periods[k]["import_kwh"] is None for k in missing)
    assert round(sum(r["import_kwh"] for r in cli["periods"]), 6) == body["total_import_kwh"]
    assert round(sum(float(r["cost"]) for r in cli["periods"]), 4) == body["total_cost"]


def test_the_day_without_data_and_the_dst_day_come_out_the_same(data, api) -> None:
    # GIVEN the day query over the spring-forward day and the day without data
    cli = {r["period"]: r for r in cli_query(data, "day", "2026-03-27", "2026-03-30")["periods"]}
    body = api.get("/api/devices/apt-1/energy", params={"period": "day", "from": "2026-03-27",
                                                         "to": "2026-03-30"}).json()
    days = {p["start"]: p for p in body["periods"]}
    # THEN the 23-hour day holds 11 hours of data in both, and neither invents energy or cost for 28 March
    assert cli["2026-03-29"]["import_kwh"] == days["2026-03-29"]["import_kwh"] == pytest.approx(0.66)
    assert "2026-03-28" not in cli and days["2026-03-28"]["gap"] and days["2026-03-28"]["cost"] is None
