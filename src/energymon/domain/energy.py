"""Energy derivation: turn a device's readings into energy per UTC minute.

Energy is stored as integer milliwatt-hours so that rollups are exact sums whatever the order in
which minutes are written (floats would drift with the order of additions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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


def floor_minute(ts_ms: int) -> int:
    return ts_ms - ts_ms % MINUTE_MS


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


def derive_minutes(readings: Sequence[Reading], params: EnergyParams) -> dict[int, MinuteEnergy]:
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
