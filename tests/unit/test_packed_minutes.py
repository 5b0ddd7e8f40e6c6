"""A minute's readings packed into one blob come back exactly: every field, every float bit, absent fields absent."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energymon.adapters.local.packed_minutes import FIELDS, MinuteReadings, PackedFormatError
from energymon.domain.reading import Reading

MINUTE = 1_796_000_040_000 - 1_796_000_040_000 % 60_000
_value = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False))
_reading = st.tuples(st.integers(0, 59_999), _value, _value, _value, _value, _value)


def _bits(r: Reading) -> tuple:
    """A reading with its floats as bit patterns: -0.0 and 0.0 differ, as they must after a round trip."""
    return (r.device_id, r.ts_ms, *(None if (v := getattr(r, f)) is None else struct.pack("<d", v) for f in FIELDS))


def _readings(spec: list[tuple]) -> list[Reading]:
    unique = {offset: values for offset, *values in spec}
    return [Reading("apt-1", MINUTE + offset, *values) for offset, values in sorted(unique.items())]


@settings(max_examples=300)
@given(st.lists(_reading, min_size=1, max_size=80))
def test_given_any_readings_of_a_minute_when_packed_and_unpacked_then_they_are_the_same_to_the_bit(
    spec: list[tuple],
) -> None:
    readings = _readings(spec)
    blob = MinuteReadings.of(MINUTE, readings).pack()
    back = MinuteReadings.unpack(MINUTE, blob)
    assert [_bits(r) for r in back.readings("apt-1")] == [_bits(r) for r in readings]
    assert back.counters == sum(r.energy_wh is not None for r in readings)


@settings(max_examples=200)
@given(st.lists(_reading, min_size=1, max_size=40), st.lists(_reading, min_size=1, max_size=40))
def test_given_a_stored_minute_when_readings_are_added_then_new_timestamps_join_and_held_ones_stay(
    first: list[tuple], later: list[tuple],
) -> None:
    # GIVEN a packed minute WHEN more readings (any order, some at held timestamps, some twice) are added
    held = _readings(first)
    packed = MinuteReadings.unpack(MINUTE, MinuteReadings.of(MINUTE, held).pack())
    incoming = [Reading("apt-1", MINUTE + offset, *values) for offset, *values in later]
    added = packed.add(incoming)
    # THEN what a row per reading with INSERT OR IGNORE would hold: held readings win, then the first given
    expected = {r.ts_ms: r for r in held}
    for r in incoming:
        expected.setdefault(r.ts_ms, r)
    assert added == len(expected) - len(held)
    got = MinuteReadings.unpack(MINUTE, packed.pack()).readings("apt-1")
    assert [_bits(r) for r in got] == [_bits(expected[ts]) for ts in sorted(expected)]


def test_given_a_minute_of_power_and_counter_at_1_hz_when_packed_then_it_takes_18_bytes_a_reading() -> None:
    readings = [Reading("apt-1", MINUTE + i * 1000, 400.0 + i, 1_000.0 + i / 10) for i in range(60)]
    assert len(MinuteReadings.of(MINUTE, readings).pack()) == 3 + 60 * 18


def test_given_readings_kept_by_a_rule_when_filtered_then_only_those_remain() -> None:
    readings = [Reading("apt-1", MINUTE + i * 1000, 400.0, 1_000.0 if i % 2 else None) for i in range(10)]
    packed = MinuteReadings.of(MINUTE, readings)
    assert packed.keep(lambda r: r.energy_wh is not None) == 5
    assert [r.ts_ms - MINUTE for r in packed.readings("apt-1")] == [1000, 3000, 5000, 7000, 9000]
    assert packed.keep(lambda r: False) == 5 and len(packed) == 0


@pytest.mark.parametrize("blob", [b"", b"\x02\x03\x00" + bytes(18), b"\x01\x03\x00" + bytes(17), b"\x01\x03\x00"])
def test_given_a_blob_of_another_version_or_cut_short_when_unpacked_then_it_is_refused_by_name(blob: bytes) -> None:
    with pytest.raises(PackedFormatError, match=f"minute {MINUTE}"):
        MinuteReadings.unpack(MINUTE, blob)


def test_given_nan_never_stored_when_a_field_is_absent_in_some_readings_then_it_reads_back_as_none() -> None:
    readings = [Reading("apt-1", MINUTE, 5.0, None, 1.0), Reading("apt-1", MINUTE + 1, None, 2.0, None)]
    back = MinuteReadings.unpack(MINUTE, MinuteReadings.of(MINUTE, readings).pack()).readings("apt-1")
    assert back == readings
    assert not any(isinstance(v, float) and math.isnan(v) for r in back for v in (r.power_w, r.export_wh))

