"""Energy derivation: turn a device's readings into energy per UTC minute.

Energy is stored as integer milliwatt-hours so that rollups are exact sums whatever the order in
which minutes are written (floats would drift with the order of additions).
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from energymon.domain.reading import Reading

__all__ = [
    "MINUTE_MS",
    "EnergyParams",
    "MinuteEnergy",
    "derive_minutes",
    "floor_minute",
]

MINUTE_MS = 60_000
_HOUR_MS = 3_600_000
# A silence longer than this is stored in quarter-hour rows rather than minute rows: a meter back after a year
# offline is 35,000 rows, not 525,000. Every zone's local hours start on a UTC quarter hour, so hour, day and
# month totals stay exact.
COARSE_AFTER_MS = 6 * _HOUR_MS
_QUARTER_MS = 15 * MINUTE_MS


@dataclass(frozen=True, slots=True)
class EnergyParams:
    """Plausibility limits for one apartment; see README "How energy is computed"."""

    max_power_w: float = 50_000.0
    max_gap_ms: int = 5 * MINUTE_MS
    jitter_wh: float = 1.0
    counter_rollover_wh: float | None = None


@dataclass(slots=True)
class MinuteEnergy:
    """What one device consumed in one UTC minute."""

    minute_ms: int
    import_mwh: int = 0
    export_mwh: int = 0
    peak_power_w: float | None = None
    samples: int = 0
    anomalies: int = 0
    gap: int = 0  # minutes this row stands for inside a silence longer than max_gap (energy there is a share)


def floor_minute(ts_ms: int) -> int:
    return ts_ms - ts_ms % MINUTE_MS


def _mark_gap(out: dict[int, MinuteEnergy], first_ms: int, end_ms: int, interval_ms: int) -> None:
    """Count the silent minutes [first, end) on the rows that stand for them (quarter hours when coarse)."""
    step = _QUARTER_MS if interval_ms > COARSE_AFTER_MS else MINUTE_MS
    row = first_ms - first_ms % step
    while row < end_ms:
        minutes = (min(row + step, end_ms) - max(row, first_ms)) // MINUTE_MS
        if minutes > 0:
            _minute(out, row).gap += minutes
        row += step


def _minute(out: dict[int, MinuteEnergy], key: int) -> MinuteEnergy:
    minute = out.get(key)
    if minute is None:
        minute = out[key] = MinuteEnergy(key)
    return minute


def _spread(target: dict[int, float], start_ms: int, end_ms: int, wh: float) -> None:
    """Share ``wh`` over the minutes of [start, end) in proportion to time (quarter hours across a long silence).

    Energy stays a float per minute while deriving and is rounded to whole mWh once per minute at the end, so low
    power sampled often (1.8 W at 1 Hz is 0.5 mWh per interval) is neither lost nor inflated by rounding."""
    step = _QUARTER_MS if end_ms - start_ms > COARSE_AFTER_MS else MINUTE_MS
    per_ms = wh / (end_ms - start_ms)
    cursor = start_ms
    while cursor < end_ms:
        key = cursor - cursor % step
        boundary = min(key + step, end_ms)
        target[key] = target.get(key, 0.0) + per_ms * (boundary - cursor)
        cursor = boundary


def _walk_counter(
    readings: Sequence[Reading], value_of: attrgetter[float | None], target: dict[int, float],
    out: dict[int, MinuteEnergy], params: EnergyParams,
) -> tuple[int, int] | None:
    """Spread a cumulative counter's deltas over the minutes between its readings; the span [first, last] the
    counter covers, or None without one.

    Never negative, never a spike: a drop within ``jitter_wh`` keeps the high-water mark and counts nothing; a
    larger drop is a rollover (near the configured limit) or a reset counted from zero; a rise faster than
    ``max_power_w`` is held back until the next reading agrees with it (meter swap, long offline), then
    re-based on. Resets and spikes are counted as anomalies on the minute of the reading that shows them.

    The hot loop of every batch: written out flat (no per-reading calls) for the processor's throughput;
    tests/unit/test_energy_reference.py proves it equal to a plain reading of these rules.
    """
    max_power = params.max_power_w
    jitter = params.jitter_wh
    rollover = params.counter_rollover_wh
    reference: float | None = None  # the high-water mark deltas are taken from
    pending: float | None = None  # a spike waiting for the next reading to confirm it
    first = previous = 0
    for reading in readings:
        value = value_of(reading)
        if value is None:
            continue
        ts = reading.ts_ms
        if reference is None:
            reference = value
            first = previous = ts
            continue
        anomalies = 0
        delta = value - reference
        if delta < 0:
            if -delta <= jitter:
                previous = ts
                continue
            if rollover and reference > 0.9 * rollover and value < 0.1 * rollover:
                delta = rollover - reference + value
            else:
                delta = value
                anomalies = 1
        hours = (ts - previous if ts > previous else 1) / _HOUR_MS
        if delta / hours > max_power:
            if pending is not None and 0 <= value - pending <= max_power * hours:
                wh = value - pending
                reference, pending = value, None
            else:
                wh = 0.0
                pending = value
                anomalies += 1
        else:
            wh = delta
            reference, pending = value, None
        if wh != 0:
            key = previous - previous % MINUTE_MS
            if key == (ts - 1) - (ts - 1) % MINUTE_MS:  # the common case: one minute
                target[key] = target.get(key, 0.0) + wh
            else:
                _spread(target, previous, ts, wh)
        if anomalies:
            out[ts - ts % MINUTE_MS].anomalies += anomalies
        previous = ts
    return None if reference is None else (first, previous)


_IMPORT = attrgetter("energy_wh")
_EXPORT = attrgetter("export_wh")


def derive_minutes(readings: Sequence[Reading], params: EnergyParams) -> dict[int, MinuteEnergy]:
    """Energy, peak power and sample counts per UTC minute for one device.

    ``readings`` must be one device's readings sorted by time with unique timestamps. The import counter,
    where there is one, is the source of energy: its deltas are spread over the minutes between its
    readings. Power-only readings (a Shelly ``em`` status between ``emdata`` counters, a plug without a
    counter) are integrated only where no counter reading brackets them, so nothing is counted twice.
    Each reading's own power and count go to the minute it was taken in.
    """
    out: dict[int, MinuteEnergy] = {}
    max_gap = params.max_gap_ms
    gaps: list[int] = []  # indexes i where readings i-1 -> i is a silence longer than max_gap
    exports = False
    key = -1
    row = MinuteEnergy(key)
    previous_ts = None
    for index, reading in enumerate(readings):
        ts = reading.ts_ms
        if ts - ts % MINUTE_MS != key:
            key = ts - ts % MINUTE_MS
            found = out.get(key)
            row = out[key] = MinuteEnergy(key) if found is None else found
        row.samples += 1
        power = reading.power_w
        if power is not None and (row.peak_power_w is None or power > row.peak_power_w):
            row.peak_power_w = power
        if reading.export_wh is not None:
            exports = True
        if previous_ts is not None and ts - previous_ts > max_gap:
            gaps.append(index)
        previous_ts = ts
    imports: dict[int, float] = {}
    covered = _walk_counter(readings, _IMPORT, imports, out, params)
    exported: dict[int, float] = {}
    if exports:
        _walk_counter(readings, _EXPORT, exported, out, params)
    for index in gaps:
        # Report the silent minutes as a gap: power is never integrated across it, and a counter's
        # energy spread over it is an even share, not a measurement.
        a, b = readings[index - 1].ts_ms, readings[index].ts_ms
        _mark_gap(out, floor_minute(a) + MINUTE_MS, floor_minute(b), b - a)
    _integrate_power(readings, covered, max_gap, imports)
    for key, wh in imports.items():
        _minute(out, key).import_mwh = round(wh * 1000)
    for key, wh in exported.items():
        _minute(out, key).export_mwh = round(wh * 1000)
    return out


def _integrate_power(
    readings: Sequence[Reading], covered: tuple[int, int] | None, max_gap: int, imports: dict[int, float]
) -> None:
    """Trapezoidal integration of import power across short gaps, outside the span the counter measured.

    Only the readings before the counter's first and after its last can open such an interval, so with a
    counter (nearly every batch) this looks at a handful of pairs instead of all of them."""
    n = len(readings)
    if covered is None:
        pairs: range | list[int] = range(1, n)
    else:
        first, last = covered
        head = next(i for i, r in enumerate(readings) if r.ts_ms == first)
        tail = next(i for i in range(n - 1, -1, -1) if readings[i].ts_ms == last)
        pairs = [*range(1, head + 1), *range(tail + 1, n)]
    for index in pairs:
        a, b = readings[index - 1], readings[index]
        dt = b.ts_ms - a.ts_ms
        if dt > max_gap or a.power_w is None or b.power_w is None:
            continue
        wh = (max(a.power_w, 0.0) + max(b.power_w, 0.0)) / 2 * dt / _HOUR_MS
        if wh == 0:
            continue
        start = a.ts_ms - a.ts_ms % MINUTE_MS
        if start == (b.ts_ms - 1) - (b.ts_ms - 1) % MINUTE_MS:
            imports[start] = imports.get(start, 0.0) + wh
        else:
            _spread(imports, a.ts_ms, b.ts_ms, wh)
