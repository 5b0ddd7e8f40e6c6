"""The energy rules read plainly (one object per counter, one call per interval), as they were before
domain/energy.py's derivation was written out flat for speed: the flat one must give exactly these minutes,
row for row and in the same order, for any readings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hypothesis import given, settings
from hypothesis import strategies as st

from energymon.domain.energy import (  # the gap and row helpers were not rewritten: the oracle shares them
    COARSE_AFTER_MS,
    MINUTE_MS,
    EnergyParams,
    MinuteEnergy,
    _mark_gap,
    _minute,
    derive_minutes,
    floor_minute,
)
from energymon.domain.reading import Reading

if TYPE_CHECKING:
    from collections.abc import Sequence

_HOUR_MS = 3_600_000
_QUARTER_MS = 15 * MINUTE_MS


@dataclass(slots=True)
class _Counter:
    """Running state of one cumulative counter while walking readings in time order."""

    reference: float | None = None
    pending: float | None = None
    anomalies: list[str] = field(default_factory=list)

    def step(self, value: float, dt_ms: int, params: EnergyParams) -> float:
        """Energy (Wh) between the reference and ``value``; never negative, never a spike."""
        if self.reference is None:
            self.reference = value
            return 0.0
        delta = value - self.reference
        if delta < 0:
            if -delta <= params.jitter_wh:
                return 0.0  # meter jitter: keep the high-water mark, count nothing
            rollover = params.counter_rollover_wh
            if rollover and self.reference > 0.9 * rollover and value < 0.1 * rollover:
                delta = rollover - self.reference + value
            else:
                delta = value  # a reset starts a new cycle counted from zero
                self.anomalies.append("reset")
        hours = max(dt_ms, 1) / _HOUR_MS
        if delta / hours > params.max_power_w:
            # A spike: never add it. If the next reading agrees with this one, the counter really moved
            # (meter swap, long offline) and we re-base on it.
            if self.pending is not None and 0 <= value - self.pending <= params.max_power_w * hours:
                gained = value - self.pending
                self.reference, self.pending = value, None
                return gained
            self.pending = value
            self.anomalies.append("spike")
            return 0.0
        self.reference, self.pending = value, None
        return delta


class _Accumulator:
    """Float Wh per minute while deriving; rounded to whole mWh once per minute at the end, so low power
    sampled often (1.8 W at 1 Hz is 0.5 mWh per interval) is neither lost nor inflated by rounding."""

    __slots__ = ("imports", "exports")

    def __init__(self) -> None:
        self.imports: dict[int, float] = {}
        self.exports: dict[int, float] = {}

    @staticmethod
    def spread(target: dict[int, float], start_ms: int, end_ms: int, wh: float) -> None:
        """Share ``wh`` over the minutes of [start, end) in proportion to time."""
        if wh == 0:
            return
        step = _QUARTER_MS if end_ms - start_ms > COARSE_AFTER_MS else MINUTE_MS
        first = floor_minute(start_ms)
        if first == floor_minute(end_ms - 1):  # the common case: one minute
            target[first] = target.get(first, 0.0) + wh
            return
        per_ms = wh / (end_ms - start_ms)
        cursor = start_ms
        while cursor < end_ms:
            key = cursor - cursor % step
            boundary = min(key + step, end_ms)
            target[key] = target.get(key, 0.0) + per_ms * (boundary - cursor)
            cursor = boundary


def _counter_energy(
    readings: Sequence[Reading], field_name: str, target: dict[int, float], out: dict[int, MinuteEnergy],
    params: EnergyParams,
) -> tuple[int, int] | None:
    """Spread a cumulative counter's deltas; return the span [first, last] the counter covers."""
    counter = _Counter()
    previous: Reading | None = None
    for reading in readings:
        value = getattr(reading, field_name)
        if value is None:
            continue
        if previous is None:
            counter.reference = value
        else:
            wh = counter.step(value, reading.ts_ms - previous.ts_ms, params)
            _Accumulator.spread(target, previous.ts_ms, reading.ts_ms, wh)
            if counter.anomalies:
                _minute(out, floor_minute(reading.ts_ms)).anomalies += len(counter.anomalies)
                counter.anomalies.clear()
        previous = reading
    first = next((r.ts_ms for r in readings if getattr(r, field_name) is not None), None)
    return None if first is None or previous is None else (first, previous.ts_ms)


def reference_derive_minutes(readings: Sequence[Reading], params: EnergyParams) -> dict[int, MinuteEnergy]:
    """Energy, peak power and sample counts per UTC minute for one device.

    ``readings`` must be one device's readings sorted by time with unique timestamps. The import counter,
    where there is one, is the source of energy: its deltas are spread over the minutes between its
    readings. Power-only readings (a Shelly ``em`` status between ``emdata`` counters, a plug without a
    counter) are integrated only where no counter reading brackets them, so nothing is counted twice.
    Each reading's own power and count go to the minute it was taken in.
    """
    out: dict[int, MinuteEnergy] = {}
    acc = _Accumulator()
    for reading in readings:
        minute = _minute(out, floor_minute(reading.ts_ms))
        minute.samples += 1
        power = reading.power_w
        if power is not None and (minute.peak_power_w is None or power > minute.peak_power_w):
            minute.peak_power_w = power
    covered = _counter_energy(readings, "energy_wh", acc.imports, out, params)
    _counter_energy(readings, "export_wh", acc.exports, out, params)
    for a, b in zip(readings, readings[1:], strict=False):
        if b.ts_ms - a.ts_ms > params.max_gap_ms:
            # Report the silent minutes as a gap: power is never integrated across it, and a counter's
            # energy spread over it is an even share, not a measurement.
            _mark_gap(out, floor_minute(a.ts_ms) + MINUTE_MS, floor_minute(b.ts_ms), b.ts_ms - a.ts_ms)
            continue
        if a.power_w is None or b.power_w is None:
            continue
        if covered and covered[0] <= a.ts_ms and b.ts_ms <= covered[1]:
            continue  # the counter already measured this interval
        # Trapezoidal integration of import power, only across short gaps.
        wh = (max(a.power_w, 0.0) + max(b.power_w, 0.0)) / 2 * (b.ts_ms - a.ts_ms) / _HOUR_MS
        _Accumulator.spread(acc.imports, a.ts_ms, b.ts_ms, wh)
    for key, wh in acc.imports.items():
        _minute(out, key).import_mwh = round(wh * 1000)
    for key, wh in acc.exports.items():
        _minute(out, key).export_mwh = round(wh * 1000)
    return out


T0 = 1_767_225_600_000  # 2026-01-01T00:00Z

_values = st.one_of(st.none(), st.floats(0, 2_000, allow_nan=False), st.sampled_from([0.0, 99_990.0, 85_000.0, 5.0]))
_steps = st.lists(
    st.tuples(
        st.one_of(st.integers(1, 120_000), st.sampled_from([300_000, 300_001, 7 * _HOUR_MS, 30 * 86_400_000])),
        st.one_of(st.none(), st.floats(-3_000, 60_000, allow_nan=False)),
        st.one_of(st.none(), st.floats(-5, 50, allow_nan=False), st.sampled_from([-1.0, -0.5, 46.0])),  # jitter, resets, spikes
        st.booleans(),  # an export counter on this reading
        _values,
    ),
    max_size=60,
)


def _walk(steps: list[tuple[int, float | None, float | None, bool, float | None]]) -> list[Reading]:
    readings, ts, counter, export = [], T0 + 12_345, 1_000.0, 10.0
    for dt, power, rise, with_export, absolute in steps:
        ts += dt
        energy = None
        if rise is not None:
            counter = absolute if absolute is not None and rise > 45 else max(counter + rise, 0.0)
            energy = counter
        if with_export:
            export += 0.25
        watts = 0.0 if power is None and energy is None else power
        readings.append(Reading("apt-1", ts, power_w=watts, energy_wh=energy,
                                export_wh=export if with_export else None))
    return readings


@settings(max_examples=400, deadline=None)
@given(_steps, st.sampled_from([EnergyParams(), EnergyParams(max_power_w=2_000.0, jitter_wh=0.5),
                                EnergyParams(counter_rollover_wh=100_000.0, max_gap_ms=90_000)]))
def test_given_any_readings_when_derived_then_the_flat_code_gives_the_plain_rules_minutes(
    steps: list[tuple[int, float | None, float | None, bool, float | None]], params: EnergyParams,
) -> None:
    readings = _walk(steps)
    expected = reference_derive_minutes(readings, params)
    got = derive_minutes(readings, params)
    assert list(got) == list(expected)
    assert list(got.values()) == list(expected.values())
