"""The main screen's computations (application/overview.py) over a seeded SQLite store and a fixed clock."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest

from energymon.adapters.local.store import SqliteStore
from energymon.application import QueryService
from energymon.application.overview import CSV_COLUMNS, CsvTooLarge, Overview, change_pct, nearest_rank
from energymon.domain.energy import MinuteEnergy
from energymon.domain.reading import Reading
from energymon.domain.tariffs import Tariff

if TYPE_CHECKING:
    from pathlib import Path

BERLIN = ZoneInfo("Europe/Berlin")
MIN = 60_000
TOU = Tariff.from_dict({"currency": "EUR", "periods": [{
    "from": "2026-06-01", "to": "2026-07-02", "standing_charge_per_day": "0.50", "price_per_kwh": "0.30",
    "windows": [{"days": "all", "start": "22:00", "end": "06:00", "price_per_kwh": "0.10"}]}]})


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=BERLIN).timestamp() * 1000)  # type: ignore[misc]


NOW = ms(2026, 6, 10, 23, 30)  # a Wednesday night, inside the cheap window


def watts(w: float) -> int:
    """mWh in one minute at ``w`` watts."""
    return round(w * 1000 / 60)


def put(store: SqliteStore, device: str, start: int, end: int, w: float | dict[int, float], gap: int = 0) -> None:
    minutes = [MinuteEnergy(m, watts(w if isinstance(w, float) else w.get(m, 0.0)), 0, 1.0, 6, 0, gap)
               for m in range(start, end, MIN)]
    store.replace_minutes(device, start, end, minutes, "Europe/Berlin")


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "store.db")
    for device, power in (("a", 500.0), ("b", 250.0)):
        s.add_readings(device, [Reading(device, NOW - 5_000, power_w=power, energy_wh=1.0)])
    return s


def overview(store: SqliteStore, tariff: Tariff | None = TOU) -> Overview:
    return Overview(QueryService(store, lambda _d: "Europe/Berlin", tariff, clock=lambda: NOW / 1000))


def test_nearest_rank_percentile_and_change() -> None:
    assert nearest_rank([5.0, 1.0, 4.0, 2.0, 3.0], 10) == 1.0
    assert nearest_rank([float(v) for v in range(1, 101)], 10) == 10.0
    assert nearest_rank([7.0], 10) == 7.0
    assert change_pct(1.5, 1.0) == 50.0
    assert change_pct(1.0, 0.0) is None and change_pct(None, 1.0) is None


def test_cost_per_hour_uses_the_price_in_force_now_and_names_when_it_changes(store: SqliteStore) -> None:
    live = overview(store).live_cost(store.devices()[0])
    assert live.power_w == 500.0 and live.price_per_kwh == 0.1  # 23:30 lies in the 22:00-06:00 window
    assert live.cost_per_hour == 0.05
    assert live.price_until_ms == ms(2026, 6, 11, 6)


def test_a_tariff_that_does_not_cover_now_gives_no_price_rather_than_a_guess(store: SqliteStore) -> None:
    later = Tariff.from_dict({"currency": "EUR", "periods": [{"from": "2026-07-01", "standing_charge_per_day": "0",
                                                              "price_per_kwh": "0.30"}]})
    live = overview(store, later).live_cost(store.devices()[0])
    assert live.price_per_kwh is None and live.cost_per_hour is None and live.currency == "EUR"


def test_yesterday_and_last_week_stop_at_the_same_local_time(store: SqliteStore) -> None:
    # a: 600 W all of yesterday, 300 W all of the Wednesday a week ago; only the hours to 23:30 count.
    put(store, "a", ms(2026, 6, 9), ms(2026, 6, 10), 600.0)
    put(store, "a", ms(2026, 6, 3), ms(2026, 6, 4), 300.0)
    put(store, "a", ms(2026, 6, 10), ms(2026, 6, 10, 23, 30), 300.0)
    ov = overview(store)
    today, yesterday, last_week = (ov.day_to_time("a", d) for d in (0, 1, 7))
    assert yesterday.day == "2026-06-09" and yesterday.end_ms == ms(2026, 6, 9, 23, 30)
    assert yesterday.import_kwh == pytest.approx(0.6 * 23.5)
    assert last_week.day == "2026-06-03" and last_week.import_kwh == pytest.approx(0.3 * 23.5)
    assert today.import_kwh == pytest.approx(0.3 * 23.5)
    # Yesterday's cost: 6 h + 1.5 h at 0.10, 16 h at 0.30, and one standing charge.
    assert yesterday.cost == pytest.approx(0.6 * (7.5 * 0.10 + 16 * 0.30) + 0.50, abs=1e-3)
    device = ov.device(store.devices()[0], nights=7)
    assert device.vs_yesterday_pct == -50.0 and device.vs_last_week_pct == 0.0


def test_always_on_is_a_low_percentile_of_night_minutes_without_gaps(store: SqliteStore) -> None:
    # Three nights of 00:00-05:00 at 80 W with a fridge cycling to 180 W every other minute; the evening and a
    # night whose minutes were filled in across a silence (a gap) must not count.
    for day in (7, 8, 9):
        start = ms(2026, 6, day)
        put(store, "a", start, ms(2026, 6, day, 5), {m: 80.0 if (m // MIN) % 2 else 180.0
                                                     for m in range(start, ms(2026, 6, day, 5), MIN)})
    put(store, "a", ms(2026, 6, 6), ms(2026, 6, 6, 5), 1.0, gap=1)  # a silence: energy there is a share
    put(store, "a", ms(2026, 6, 10, 23), ms(2026, 6, 10, 23, 30), 5.0)  # evening, not a night window
    result = overview(store).always_on("a", nights=7)
    assert result.power_w == 80.0 and result.minutes == 900
    assert result.kwh_per_year == pytest.approx(80 * 8.76)
    # The week's mean price: 8 of 24 hours at 0.10, 16 at 0.30.
    assert result.cost_per_year == pytest.approx(80 * 8.76 * (8 * 0.10 + 16 * 0.30) / 24, abs=0.01)
    assert overview(store).always_on("a", nights=1).minutes == 0  # last night (00:00-05:00 today) has no data
    assert overview(store).always_on("a", nights=2).minutes == 300  # ... the night before has
    assert overview(store).always_on("b", nights=7).power_w is None  # no night data: no figure


def test_site_peak_demand_is_coincident_not_the_sum_of_each_peak(store: SqliteStore) -> None:
    # a peaks at 10:00-10:15 (4 kW), b at 11:00-11:15 (3 kW); at 11:00 a still draws 2 kW: the site's peak is
    # 5 kW at 11:00, not 7 kW.
    day = (ms(2026, 6, 9, 9), ms(2026, 6, 9, 12))
    put(store, "a", *day, {m: 4000.0 if m < ms(2026, 6, 9, 10, 15) and m >= ms(2026, 6, 9, 10) else 2000.0
                           for m in range(*day, MIN)})
    put(store, "b", *day, {m: 3000.0 if ms(2026, 6, 9, 11) <= m < ms(2026, 6, 9, 11, 15) else 100.0
                           for m in range(*day, MIN)})
    ov = overview(store)
    a, b = (ov.peak_demand([d], BERLIN) for d in ("a", "b"))
    assert (a.kw, a.start_ms) == (4.0, ms(2026, 6, 9, 10)) and (b.kw, b.start_ms) == (3.0, ms(2026, 6, 9, 11))
    site = ov.site(nights=7).peak_demand
    assert site.kw == 5.0 and site.start == "2026-06-09T11:00:00+02:00" and site.end == "2026-06-09T11:15:00+02:00"
    assert site.month == "2026-06"


def test_site_power_and_costs_add_up_the_devices(store: SqliteStore) -> None:
    site = overview(store).site(nights=7)
    assert site.power_w == 750.0 and site.cost_per_hour == pytest.approx(0.075)
    assert site.today_cost == pytest.approx(2 * 0.50)  # no energy today, two standing charges
    assert site.currency == "EUR"


def test_csv_rows_carry_local_and_utc_times_and_refuse_too_many_rows(store: SqliteStore) -> None:
    put(store, "a", ms(2026, 6, 9), ms(2026, 6, 10), 600.0)
    rows = overview(store).csv_rows(["a"], "day", ms(2026, 6, 9), ms(2026, 6, 10))
    assert len(CSV_COLUMNS) == len(rows[0])
    assert rows[0][:5] == ("a", "2026-06-09T00:00:00+02:00", "2026-06-10T00:00:00+02:00", "2026-06-08T22:00:00Z",
                           "2026-06-09T22:00:00Z")
    assert rows[0][5] == pytest.approx(14.4)
    with pytest.raises(CsvTooLarge, match="more than the limit of 50000 rows"):
        overview(store).csv_rows(["a", "b"] * 3, "minute", ms(2026, 6, 3), ms(2026, 6, 10))


def test_a_night_not_over_yet_does_not_count(store: SqliteStore) -> None:
    put(store, "a", ms(2026, 6, 10), ms(2026, 6, 10, 3), 40.0)  # tonight so far, at 03:00
    put(store, "a", ms(2026, 6, 9), ms(2026, 6, 9, 5), 90.0)
    at_three = Overview(QueryService(store, lambda _d: "Europe/Berlin", TOU, clock=lambda: ms(2026, 6, 10, 3) / 1000))
    result = at_three.always_on("a", nights=1)
    assert (result.power_w, result.minutes) == (90.0, 300)
