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


def _regex_ms(text: str) -> int | None:
    """The reference the table look-ups replace: the canonical regex and a real date."""
    from energymon.domain.reading import _CANONICAL_TS, _epoch_day

    match = _CANONICAL_TS.fullmatch(text)
    day = None if match is None else _epoch_day(match[1])
    if match is None or day is None:
        return None
    return (((day * 24 + int(match[2])) * 60 + int(match[3])) * 60 + int(match[4])) * 1000 + int(match[5])


_near_canonical = st.builds(
    lambda base, pos, ch: base[:pos] + ch + base[pos + 1:],
    instants.map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"),
    st.integers(0, 24), st.sampled_from(["0", "9", "2", "5", "6", "+", " ", "-", ":", ".", "Z", "T", "\u0663", ""]),
)


@given(_near_canonical)
def test_the_table_look_ups_accept_exactly_what_the_canonical_pattern_accepts(text: str) -> None:
    from energymon.domain.reading import _fast_utc_ms

    assert _fast_utc_ms(text) == _regex_ms(text)


_values = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10**400),
                    st.booleans(), st.text(max_size=3), st.sampled_from([1e6, -1e6, 1e6 + 1, -0.0, 0.0]))
_samples_strategy = st.lists(st.one_of(
    st.dictionaries(st.sampled_from(["ts", "power_w", "energy_wh", "export_wh", "voltage_v", "x"]), _values,
                    max_size=5),
    st.fixed_dictionaries({"ts": _near_canonical, "power_w": _values, "energy_wh": _values}),
    st.fixed_dictionaries({"ts": _near_canonical, "power_w": st.floats(-2e6, 2e6)}),
    st.just([]),
), min_size=1, max_size=4)


@given(_samples_strategy, st.sampled_from([None, 4_102_444_800_000, 1_780_000_000_000]))
def test_the_fast_sample_path_gives_the_slow_paths_readings_and_rejections(samples: list, now_ms: int | None) -> None:
    from energymon.domain.reading import _sample, _samples
    from energymon.errors import RejectedReading

    def outcome(fn):  # type: ignore[no-untyped-def]
        try:
            return fn()
        except RejectedReading as exc:
            return (exc.code, exc.reason)
        except (OverflowError, TypeError, ValueError) as exc:
            return type(exc)

    slow = outcome(lambda: [_sample("apt-1", s, i, now_ms) for i, s in enumerate(samples)])
    assert outcome(lambda: _samples("apt-1", samples, now_ms)) == slow
