"""GIVEN a tariff, WHEN energy is asked per period, THEN each period carries its cost in the tariff's currency."""

from __future__ import annotations

import datetime as dt

import pytest
from apidata import NOW_MS, ZONES, local_ms

from energymon.adapters.local.store import SqliteStore
from energymon.api import ApiOptions, create_app
from energymon.domain.tariffs import Tariff

TARIFF = Tariff.from_dict({"currency": "EUR", "periods": [
    {"from": dt.date(2026, 1, 1), "standing_charge_per_day": "0.50", "price_per_kwh": "0.30",
     "windows": [{"days": "all", "start": "00:00", "end": "06:00", "price_per_kwh": "0.10"}]},
    {"from": dt.date(2026, 3, 29), "standing_charge_per_day": "0.60", "price_per_kwh": "0.40"},
]})


@pytest.fixture
def priced(store: SqliteStore):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    app = create_app(store, ApiOptions(ZONES.__getitem__, clock=lambda: NOW_MS / 1000, tariff=TARIFF))
    with TestClient(app) as c:
        yield c


def test_daily_cost_prices_each_hour_in_force_and_adds_one_standing_charge(priced) -> None:  # type: ignore[no-untyped-def]
    body = priced.get("/api/devices/apt-1/energy", params={
        "period": "day", "from": "2026-03-27", "to": "2026-03-30"}).json()
    days = {p["start"]: p for p in body["periods"]}
    assert body["currency"] == "EUR"
    # 27 March: 60 Wh per hour; 6 h at 0.10 and 18 h at 0.30 → 0.036 + 0.324, + 0.50 standing charge
    assert days["2026-03-27"]["cost"] == pytest.approx(0.86, abs=1e-4)
    # 28 March has no data: no cost is invented for it
    assert days["2026-03-28"]["cost"] is None
    # 29 March (23-hour day, new flat price from that day on): 11 h so far at 0.40 → 0.264 + 0.60
    assert days["2026-03-29"]["cost"] == pytest.approx(0.864, abs=1e-4)
    assert body["total_cost"] == pytest.approx(0.86 + 0.864, abs=1e-4)


def test_without_a_tariff_cost_is_null_and_no_currency_is_claimed(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/api/devices/apt-1/energy", params={"period": "hour", "from": str(local_ms(2026, 3, 27)),
                                                          "to": str(local_ms(2026, 3, 27, 2))}).json()
    assert body["currency"] is None
    assert all(p["cost"] is None for p in body["periods"])


def test_today_carries_the_cost_so_far(priced) -> None:  # type: ignore[no-untyped-def]
    today = priced.get("/api/devices/apt-1/today").json()
    assert today["currency"] == "EUR"
    assert today["cost"] == pytest.approx(0.864, abs=1e-4)
