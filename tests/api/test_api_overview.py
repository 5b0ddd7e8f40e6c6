"""The main screen's endpoints over the seeded store (noon on Berlin's 23-hour spring-forward day), with a
time-of-use tariff: every figure worked out by hand from the seed, and every bad parameter answered by name."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from apidata import NOW_MS, ZONES, local_ms

from energymon.adapters.local.store import SqliteStore
from energymon.api import ApiOptions, create_app
from energymon.domain.reading import Reading
from energymon.domain.tariffs import Tariff

TARIFF = Tariff.from_dict({"currency": "EUR", "periods": [{
    "from": "2026-01-01", "standing_charge_per_day": "0.45", "price_per_kwh": "0.30",
    "windows": [{"days": "all", "start": "22:00", "end": "06:00", "price_per_kwh": "0.20"}]}]})


@pytest.fixture
def priced(store: SqliteStore):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    app = create_app(store, ApiOptions(lambda d: ZONES.get(d, "UTC"), clock=lambda: NOW_MS / 1000,
                                       online_within_s=600, tariff=TARIFF))
    with TestClient(app) as c:
        yield c


def _ok(client: Any, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return response.json()


def test_given_the_seed_the_device_overview_is_what_a_hand_calculation_gives(priced: Any) -> None:
    body = _ok(priced, "/api/devices/apt-1/overview")
    # Live: the last reading is 64 W at noon, when the day price (0.30) holds until the night window at 22:00.
    assert body["live"] == {"power_w": 64.0, "price_per_kwh": 0.3, "cost_per_hour": 0.0192,
                            "price_until_ms": local_ms(2026, 3, 29, 22), "currency": "EUR"}
    # Today: 11 hours since midnight (the clock skips 02:00-03:00) at 1 Wh a minute: 0.66 kWh. Priced: 5 night hours
    # at 0.20 (0.06) + 6 day hours at 0.30 (0.108) + the 0.45 standing charge.
    assert body["today"] == {"day": "2026-03-29", "start_ms": local_ms(2026, 3, 29), "end_ms": NOW_MS,
                             "import_kwh": 0.66, "cost": 0.618}
    # Yesterday (a gap) and last Sunday to noon: no energy, the standing charge only; no change in % against 0.
    assert body["yesterday"]["end_ms"] == local_ms(2026, 3, 28, 12)
    assert body["yesterday"]["import_kwh"] == 0 and body["yesterday"]["cost"] == 0.45
    assert body["last_week"]["day"] == "2026-03-22" and body["last_week"]["import_kwh"] == 0
    assert body["vs_yesterday_pct"] is None and body["vs_last_week_pct"] is None
    # Always on: nights of 27 March (300 minutes) and 29 March (240: the short night), all at 60 W. Per year 525.6
    # kWh at the week's mean price: 55 of its 167 hours at 0.20, 112 at 0.30.
    assert body["always_on"]["power_w"] == 60.0 and body["always_on"]["minutes"] == 540
    assert body["always_on"]["kwh_per_year"] == 525.6
    assert body["always_on"]["cost_per_year"] == pytest.approx(525.6 * (55 * 0.2 + 112 * 0.3) / 167, abs=0.005)
    # Peak demand: a flat 60 W; ties go to the month's first quarter-hour with data.
    assert body["peak_demand"] == {"month": "2026-03", "kw": 0.06, "start_ms": local_ms(2026, 3, 27),
                                   "start": "2026-03-27T00:00:00+01:00", "end": "2026-03-27T00:15:00+01:00"}


def test_the_site_overview_adds_up_devices_and_leaves_out_the_power_of_a_stale_one(priced: Any) -> None:
    site = _ok(priced, "/api/site/overview")
    assert [d["device_id"] for d in site["devices"]] == ["apt-1", "apt-2"]
    assert site["devices"][1]["status"] == "stale"  # apt-2's one reading is an hour old (online within 10 min)
    assert site["power_w"] == 64.0 and site["cost_per_hour"] == 0.0192
    assert site["today_kwh"] == 0.66
    assert site["today_cost"] == pytest.approx(0.618 + 0.45)  # apt-2 pays its standing charge too
    assert site["always_on_w"] is None  # apt-2 has no night data: no site figure rather than a partial sum
    assert site["peak_demand"]["kw"] == 0.06
    assert site["timezone"] == "Europe/Berlin"


def test_the_device_csv_has_local_and_utc_times_across_the_clock_change(priced: Any) -> None:
    response = priced.get("/api/devices/apt-1/energy.csv?period=hour&from=2026-03-29&to=2026-03-29T05:00")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="energymon-apt-1-hour.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["start_local"], r["start_utc"]) for r in rows] == [
        ("2026-03-29T00:00:00+01:00", "2026-03-28T23:00:00Z"),
        ("2026-03-29T01:00:00+01:00", "2026-03-29T00:00:00Z"),
        ("2026-03-29T03:00:00+02:00", "2026-03-29T01:00:00Z"),
        ("2026-03-29T04:00:00+02:00", "2026-03-29T02:00:00Z"),
    ]
    assert rows[1]["end_local"] == "2026-03-29T03:00:00+02:00"
    assert {r["import_kwh"] for r in rows} == {"0.06"}
    assert rows[0]["cost"] == "0.012" and rows[0]["currency"] == "EUR" and rows[0]["gap"] == "0"
    energy = _ok(priced, "/api/devices/apt-1/energy?period=hour&from=2026-03-29&to=2026-03-29T05:00")
    assert [float(r["import_kwh"]) for r in rows] == [p["import_kwh"] for p in energy["periods"]]


def test_the_site_csv_and_the_site_energy_hold_every_device(priced: Any) -> None:
    rows = list(csv.DictReader(io.StringIO(
        priced.get("/api/site/energy.csv?period=day&from=2026-03-27&to=2026-03-30").text)))
    assert [(r["device_id"], r["start_local"][:10], r["import_kwh"]) for r in rows][:3] == [
        ("apt-1", "2026-03-27", "1.44"), ("apt-1", "2026-03-28", ""), ("apt-1", "2026-03-29", "0.66")]
    assert {r["device_id"] for r in rows} == {"apt-1", "apt-2"}
    site = _ok(priced, "/api/site/energy?period=day&from=2026-03-27&to=2026-03-30")
    # Days are each device's own: apt-2 (UTC) is cut in UTC, so Berlin's 27 March starts inside its 26th.
    assert [(p["start"], p["import_kwh"], p["partial"]) for p in site["periods"]] == [
        ("2026-03-26", None, True), ("2026-03-27", 1.44, False), ("2026-03-28", None, False),
        ("2026-03-29", 0.66, True)]
    assert site["total_import_kwh"] == 2.1 and site["currency"] == "EUR"


def test_a_csv_range_too_large_is_refused_naming_the_limit(priced: Any, store: SqliteStore) -> None:
    response = priced.get("/api/devices/apt-1/energy.csv?period=minute&from=2026-03-20&to=2026-03-29")
    assert response.status_code == 422
    assert response.json()["error"] == {"parameter": "from", "message": (
        "range of 9.00 days is too large for resolution 'minute' (at most 7 days); use a coarser resolution or a "
        "shorter range")}
    # Six meters' minutes over a week (one hour short: the clock change): 60,120 rows, past the CSV's own limit.
    for n in range(3, 7):
        store.add_readings(f"apt-{n}", [Reading(f"apt-{n}", NOW_MS - 60_000, power_w=1.0, energy_wh=1.0)])
    response = priced.get("/api/site/energy.csv?period=minute&from=2026-03-22T12:00&to=2026-03-29T12:00")
    assert response.status_code == 413
    assert "more than the limit of 50000 rows" in response.json()["error"]["message"]


@pytest.mark.parametrize(("path", "status", "parameter", "words"), [
    ("/api/devices/apt-1/overview?nights=0", 422, "nights", "greater than or equal to 1"),
    ("/api/devices/apt-1/overview?nights=29", 422, "nights", "less than or equal to 28"),
    ("/api/site/overview?nights=many", 422, "nights", "valid integer"),
    ("/api/devices/nope/overview", 404, "device_id", "unknown device 'nope'"),
    ("/api/devices/nope/energy.csv", 404, "device_id", "unknown device 'nope'"),
    ("/api/site/energy?period=week", 422, "period", "'minute', 'hour', 'day' or 'month'"),
    ("/api/site/energy.csv?from=yesterday", 422, "from", "'yesterday' is not a time"),
    ("/api/devices/apt-1/energy.csv?from=2026-03-29&to=2026-03-28", 422, "to", "must be after 'from'"),
])
def test_bad_parameters_are_answered_by_name(priced: Any, path: str, status: int, parameter: str, words: str) -> None:
    response = priced.get(path)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["parameter"] == parameter and words in error["message"], error


def test_without_a_tariff_the_figures_are_energy_only(client: Any) -> None:
    body = _ok(client, "/api/devices/apt-1/overview")
    assert body["live"]["price_per_kwh"] is None and body["live"]["cost_per_hour"] is None
    assert body["today"]["import_kwh"] == 0.66 and body["today"]["cost"] is None
    assert body["always_on"]["power_w"] == 60.0 and body["always_on"]["cost_per_year"] is None
    assert _ok(client, "/api/site/overview")["currency"] is None
