"""Local-time buckets: days cut at local midnight, DST days of 23 and 25 hours, half- and quarter-hour zones."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pytest

from energymon.domain.timebuckets import label_hour, local_day_bounds_ms, local_keys, zone
from energymon.errors import ConfigError

MINUTE_MS = 60_000


def utc_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def bucket_minutes(tz_name: str, around_day: str) -> tuple[dict[str, list[int]], dict[int, list[int]]]:
    """Every UTC minute from two days before to two days after ``around_day``, grouped by local day and hour."""
    tz = zone(tz_name)
    start = utc_ms(f"{around_day}T00:00:00") - 2 * 86_400_000
    days: dict[str, list[int]] = defaultdict(list)
    hours: dict[int, list[int]] = defaultdict(list)
    for minute in range(start, start + 5 * 86_400_000, MINUTE_MS):
        keys = local_keys(minute, tz)
        days[keys.day].append(minute)
        hours[keys.hour_ms].append(minute)
        assert keys.month == keys.day[:7]
    return days, hours


@pytest.mark.parametrize(
    ("tz_name", "day", "hours_in_day", "midnight_utc"),
    [
        ("Europe/Berlin", "2026-03-29", 23, "2026-03-28T23:00:00"),  # spring forward
        ("Europe/Berlin", "2026-10-25", 25, "2026-10-24T22:00:00"),  # fall back
        ("Europe/Berlin", "2026-11-27", 24, "2026-11-26T23:00:00"),
        ("Asia/Kolkata", "2026-11-27", 24, "2026-11-26T18:30:00"),  # +5:30
        ("Asia/Kathmandu", "2026-11-27", 24, "2026-11-26T18:15:00"),  # +5:45
        ("Australia/Lord_Howe", "2026-04-05", 24.5, "2026-04-04T13:00:00"),  # +11 → +10:30
        ("Australia/Lord_Howe", "2026-10-04", 23.5, "2026-10-03T13:30:00"),  # +10:30 → +11
        ("UTC", "2026-11-27", 24, "2026-11-27T00:00:00"),
    ],
)
def test_given_a_zone_and_a_day_when_minutes_are_bucketed_then_the_day_runs_from_local_midnight_to_local_midnight(
    tz_name: str, day: str, hours_in_day: float, midnight_utc: str
) -> None:
    days, _ = bucket_minutes(tz_name, day)
    minutes = days[day]
    # THEN the day holds exactly its local length, contiguously, starting at local midnight.
    assert len(minutes) == hours_in_day * 60
    assert minutes[0] == utc_ms(midnight_utc)
    assert minutes == list(range(minutes[0], minutes[0] + len(minutes) * MINUTE_MS, MINUTE_MS))
    # AND local_day_bounds_ms (what queries use) agrees with the buckets.
    assert local_day_bounds_ms(day, zone(tz_name)) == (minutes[0], minutes[-1] + MINUTE_MS)


def test_given_berlins_fall_back_day_when_bucketed_then_the_repeated_hour_is_two_distinct_hours() -> None:
    days, hours = bucket_minutes("Europe/Berlin", "2026-10-25")
    tz = zone("Europe/Berlin")
    day_hours = sorted({local_keys(m, tz).hour_ms for m in days["2026-10-25"]})
    assert len(day_hours) == 25
    assert all(len(hours[h]) == 60 for h in day_hours)
    labels = [label_hour(h, tz) for h in day_hours]
    assert labels.count("2026-10-25T02:00+02:00") == 1 and labels.count("2026-10-25T02:00+01:00") == 1


def test_given_berlins_spring_forward_day_when_bucketed_then_there_is_no_2_am() -> None:
    days, _ = bucket_minutes("Europe/Berlin", "2026-03-29")
    tz = zone("Europe/Berlin")
    labels = {label_hour(local_keys(m, tz).hour_ms, tz) for m in days["2026-03-29"]}
    assert len(labels) == 23
    assert not any("T02:" in label for label in labels)


@pytest.mark.parametrize(("tz_name", "offset_minutes"), [("Asia/Kolkata", 30), ("Asia/Kathmandu", 15)])
def test_given_a_half_or_quarter_hour_zone_when_bucketed_then_local_hours_start_off_the_utc_hour(
    tz_name: str, offset_minutes: int
) -> None:
    days, hours = bucket_minutes(tz_name, "2026-11-27")
    tz = zone(tz_name)
    day_hours = sorted({local_keys(m, tz).hour_ms for m in days["2026-11-27"]})
    assert len(day_hours) == 24
    for hour in day_hours:
        assert len(hours[hour]) == 60
        assert hours[hour][0] == hour  # the bucket starts at its key
        assert datetime.fromtimestamp(hour / 1000, UTC).minute == offset_minutes
        assert label_hour(hour, tz).endswith(":00+05:30" if offset_minutes == 30 else ":00+05:45")


def test_given_lord_howes_half_hour_fall_back_when_bucketed_then_every_minute_is_in_exactly_one_local_hour() -> None:
    days, hours = bucket_minutes("Australia/Lord_Howe", "2026-04-05")
    tz = zone("Australia/Lord_Howe")
    day = days["2026-04-05"]
    keys = [local_keys(m, tz).hour_ms for m in day]
    # 24.5 hours of minutes, none lost or counted twice, grouped into 25 buckets (one of 30 minutes).
    assert sum(len(hours[h]) for h in set(keys)) == len(day) == 24 * 60 + 30
    assert sorted(len(hours[h]) for h in set(keys)) == [30] + [60] * 24
    for h in set(keys):
        local_hours = {datetime.fromtimestamp(m / 1000, tz).hour for m in hours[h]}
        assert len(local_hours) == 1


def test_given_a_month_boundary_in_a_zone_ahead_of_utc_when_bucketed_then_the_month_is_local() -> None:
    # 2026-11-30T23:30Z is already 1 December in Berlin.
    keys = local_keys(utc_ms("2026-11-30T23:30:00"), zone("Europe/Berlin"))
    assert (keys.day, keys.month) == ("2026-12-01", "2026-12")
    keys = local_keys(utc_ms("2026-12-01T05:00:00"), zone("America/New_York"))
    assert (keys.day, keys.month) == ("2026-12-01", "2026-12")
    keys = local_keys(utc_ms("2026-12-01T04:59:00"), zone("America/New_York"))
    assert (keys.day, keys.month) == ("2026-11-30", "2026-11")


def test_given_an_unknown_zone_when_resolved_then_a_config_error_names_it() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        zone("Mars/Olympus")
