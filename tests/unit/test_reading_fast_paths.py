"""The wire format's fast paths (timestamps parsed and formatted without datetime) agree with the slow ones."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from energymon.domain.reading import format_ts, parse_ts

instants = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=dt.UTC)
)


@given(instants)
def test_canonical_timestamps_parse_to_the_same_instant_as_datetime(instant: dt.datetime) -> None:
    text = instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond // 1000:03d}Z"
    expected = (instant - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)
    assert parse_ts(text) == expected
    # ...and the same instant written with an offset (the slow path) agrees
    assert parse_ts(instant.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30))).isoformat()) == expected


@given(instants)
def test_formatting_round_trips(instant: dt.datetime) -> None:
    ms = (instant - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(milliseconds=1)
    assert parse_ts(format_ts(ms)) == ms
    assert format_ts(ms) == instant.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def test_impossible_dates_and_clocks_are_not_taken_by_the_fast_path() -> None:
    import pytest

    from energymon.errors import RejectedReading

    for text in ("2026-02-30T00:00:00.000Z", "2026-01-01T24:00:00.000Z", "2026-01-01T00:60:00.000Z",
                 "2026-01-01T00:00:0x.000Z"):
        with pytest.raises(RejectedReading):
            parse_ts(text)
