"""The read side on its own: periods cut in the device's zone, a user's 'when', and what alerts will read.

Over a small in-memory read store, so these say what the query service computes, whatever the backend.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from energymon.application import BadTime, QueryService, UnknownDevice, parse_when
from energymon.application.periods import expected_periods, local_today, midnight_ms, period_end_ms
from energymon.domain.reading import Reading
from energymon.ports import DeviceSummary, Period

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3_600_000


def ms(*args: int, tz: ZoneInfo = BERLIN) -> int:
    return int(datetime(*args, tzinfo=tz).timestamp() * 1000)  # type: ignore[misc]


class MemoryReads:
    """Just the reads the query service makes: one device with readings every 10 s and one day row."""

    def __init__(self, readings: list[Reading], days: list[Period]) -> None:
        self._readings = readings
        self._days = days

    def devices(self) -> list[DeviceSummary]:
        last = self._readings[-1]
        return [DeviceSummary("apt-1", len(self._readings), last.ts_ms, last.power_w, last.energy_wh)]

    def periods(self, device_id: str, resolution: str, start_ms: int, end_ms: int, tz_name: str) -> list[Period]:
        return [p for p in self._days if start_ms <= p.start_ms < end_ms] if resolution == "day" else []

    def readings_around(self, device_id: str, start_ms: int, end_ms: int) -> list[Reading]:
        return [r for r in self._readings if start_ms - 10_000 <= r.ts_ms <= end_ms + 10_000]

    def energy_sums(self, device_id: str, ranges: list[tuple[int, int]]) -> list[int]:
        return [0 for _ in ranges]


NOW_MS = ms(2026, 10, 25, 12)  # the 25-hour fall-back day in Berlin


@pytest.fixture
def service() -> QueryService:
    readings = [Reading("apt-1", t, power_w=100.0 + (t // 10_000) % 3) for t in range(NOW_MS - HOUR, NOW_MS, 10_000)
                if not NOW_MS - 30 * 60_000 <= t < NOW_MS - 25 * 60_000]  # a 5-minute pause
    today = Period("2026-10-25", ms(2026, 10, 25), 1.25, 0.0, 300.0, 360)
    return QueryService(MemoryReads(readings, [today]), lambda _d: "Europe/Berlin",  # type: ignore[arg-type]
                        clock=lambda: NOW_MS / 1000)


def test_a_local_day_ends_at_the_next_local_midnight_even_when_it_has_25_hours() -> None:
    start = midnight_ms(date(2026, 10, 25), BERLIN)
    assert period_end_ms("day", start, BERLIN) - start == 25 * HOUR
    assert period_end_ms("month", ms(2026, 12, 1), BERLIN) == ms(2027, 1, 1)
    assert period_end_ms("hour", start, BERLIN) == start + HOUR
    assert local_today(NOW_MS / 1000, BERLIN) == ("2026-10-25", ms(2026, 10, 25), ms(2026, 10, 26))


def test_the_repeated_hour_of_a_fall_back_day_is_two_periods() -> None:
    hours = expected_periods("hour", ms(2026, 10, 25), ms(2026, 10, 26), BERLIN)
    assert len(hours) == 25 and len({start for _, start in hours}) == 25


def test_a_when_is_epoch_ms_or_iso_in_the_device_zone_unless_it_has_an_offset() -> None:
    assert parse_when("2026-10-25", BERLIN) == datetime(2026, 10, 25, tzinfo=BERLIN)
    assert parse_when("2026-10-25T10:00Z", BERLIN).utcoffset() is not None
    assert int(parse_when(str(NOW_MS), BERLIN).timestamp() * 1000) == NOW_MS
    with pytest.raises(BadTime):
        parse_when("yesterday", BERLIN)


def test_an_alert_rule_can_read_recent_power_and_energy_so_far_today(service: QueryService) -> None:
    recent = service.recent_power("apt-1", 60_000)
    assert len(recent) == 6 and all(NOW_MS - 60_000 <= r.ts_ms <= NOW_MS for r in recent)
    assert service.energy_today_kwh("apt-1") == 1.25


def test_an_unknown_device_names_the_known_ones(service: QueryService) -> None:
    with pytest.raises(UnknownDevice) as raised:
        service.device("apt-9")
    assert raised.value.known == ["apt-1"]


def test_raw_power_marks_a_pause_with_a_null_point(service: QueryService) -> None:
    points = service.power_series("apt-1", "raw", NOW_MS - HOUR, NOW_MS, "Europe/Berlin")
    nulls = [p for p in points if p.power_w is None]
    assert len(points) == 330 + 1 and len(nulls) == 1
    assert NOW_MS - 30 * 60_000 - 10_000 < nulls[0].t < NOW_MS - 25 * 60_000
