"""Cost per period: constant-price stretches must agree with the tariff's own price at every minute."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energymon.domain.costing import period_costs, price_segments
from energymon.domain.tariffs import Tariff

MINUTE = 60_000


def _tou(start: str, end: str, change_on: dt.date | None = None) -> Tariff:
    periods: list[dict[str, object]] = [{
        "from": dt.date(2026, 1, 1), "standing_charge_per_day": "0.45", "price_per_kwh": "0.30",
        "windows": [{"days": "weekdays", "start": start, "end": end, "price_per_kwh": "0.20"}],
    }]
    if change_on:
        periods.append({"from": change_on, "standing_charge_per_day": "0.50", "price_per_kwh": "0.40"})
    return Tariff.from_dict({"currency": "EUR", "periods": periods})


def _ms(year: int, month: int, day: int, tz: ZoneInfo) -> int:
    return int(dt.datetime(year, month, day, tzinfo=tz).timestamp() * 1000)


ZONES = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]
DST_DAYS = [(2026, 3, 29), (2026, 10, 25), (2026, 3, 8), (2026, 11, 1), (2026, 4, 5), (2026, 10, 4)]


@settings(max_examples=30, deadline=None)
@given(
    zone_name=st.sampled_from(ZONES),
    day=st.sampled_from(DST_DAYS),
    start_minute=st.integers(0, 1439),
    length=st.integers(1, 1439),
    change=st.booleans(),
)
def test_every_minute_of_a_segment_has_the_segment_price(
    zone_name: str, day: tuple[int, int, int], start_minute: int, length: int, change: bool
) -> None:
    # GIVEN a time-of-use tariff whose window may cross midnight, and maybe a price change
    end_minute = (start_minute + length) % 1440 or 1440
    tz = ZoneInfo(zone_name)
    tariff = _tou(f"{start_minute // 60:02d}:{start_minute % 60:02d}",
                  "24:00" if end_minute == 1440 else f"{end_minute // 60:02d}:{end_minute % 60:02d}",
                  dt.date(*day) if change else None)
    start = _ms(*day, tz) - 86_400_000
    end = start + 3 * 86_400_000
    # WHEN the range is cut into constant-price stretches
    segments = price_segments(tariff, start, end, tz)
    # THEN they tile the range and agree with the tariff at every minute
    assert segments[0].start_ms == start
    assert segments[-1].end_ms == end
    assert all(a.end_ms == b.start_ms for a, b in zip(segments, segments[1:], strict=False))
    for segment in segments:
        for minute in range(segment.start_ms, segment.end_ms, MINUTE):
            assert tariff.price_at(minute, tz) == segment.price_per_kwh


def test_a_day_costs_its_energy_at_each_price_plus_one_standing_charge() -> None:
    # GIVEN 1 kWh per hour all day on a 25-hour DST day in Berlin, cheap 22:00–06:00 on weekdays
    tz = ZoneInfo("Europe/Berlin")
    tariff = _tou("22:00", "06:00")
    day_start, day_end = _ms(2026, 10, 25, tz), _ms(2026, 10, 26, tz)
    assert (day_end - day_start) // 3_600_000 == 25

    def energy(ranges: list[tuple[int, int]]) -> list[int]:
        return [(b - a) // 3_600_000 * 1_000_000 for a, b in ranges]  # 1 kWh per hour in mWh

    # WHEN the day is costed
    (cost,) = period_costs(tariff, [(day_start, day_end)], tz, energy, standing_charges=True)
    # THEN 2026-10-25 is a Sunday and the cheap window only starts on weekdays (Saturday night is not
    # one), so all 25 hours cost 0.30, plus one standing charge: 25 kWh × 0.30 + 0.45
    assert cost == Decimal("25") * Decimal("0.30") + Decimal("0.45")


def test_a_price_change_mid_month_never_reprices_the_days_before_it() -> None:
    tz = ZoneInfo("UTC")
    tariff = _tou("00:00", "00:01", change_on=dt.date(2026, 6, 15))
    june = (_ms(2026, 6, 1, tz), _ms(2026, 7, 1, tz))

    def energy(ranges: list[tuple[int, int]]) -> list[int]:
        # 10 kWh per day, spread evenly
        return [round((b - a) / 86_400_000 * 10_000_000) for a, b in ranges]

    (cost,) = period_costs(tariff, [june], tz, energy, standing_charges=True)
    # 14 days at 0.30 (the 00:00–00:01 weekday window is at 0.20), 16 days at 0.40
    weekdays_before = sum(1 for d in range(1, 15) if dt.date(2026, 6, d).weekday() < 5)
    window_kwh = Decimal(10) / Decimal(1440)
    expected = (
        Decimal(14 * 10) * Decimal("0.30") - weekdays_before * window_kwh * Decimal("0.10")
        + Decimal(16 * 10) * Decimal("0.40") + 14 * Decimal("0.45") + 16 * Decimal("0.50")
    )
    assert cost == pytest.approx(expected, abs=Decimal("0.0001"))
