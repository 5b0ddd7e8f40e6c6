"""Energy derivation: turn a device's readings into energy per UTC minute.

Energy is stored as integer milliwatt-hours so that rollups are exact sums whatever the order in
which minutes are written (floats would drift with the order of additions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

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


def _spread(out: dict[int, MinuteEnergy], start_ms: int, end_ms: int, mwh: int, attr: str) -> None:
    """Share ``mwh`` over the minutes of [start, end) in proportion to time, conserving the total."""
    if mwh == 0:
        return
    span = end_ms - start_ms
    if floor_minute(start_ms) == floor_minute(end_ms - 1):  # the common case: one minute
        key = floor_minute(start_ms)
        minute = out.setdefault(key, MinuteEnergy(key))
        setattr(minute, attr, getattr(minute, attr) + mwh)
        return
    given = 0
    cursor = start_ms
    while cursor < end_ms:
        boundary = min(floor_minute(cursor) + MINUTE_MS, end_ms)
        cumulative = round(mwh * (boundary - start_ms) / span)
        share = cumulative - given
        given = cumulative
        if share:
            key = floor_minute(cursor)
            minute = out.setdefault(key, MinuteEnergy(key))
            setattr(minute, attr, getattr(minute, attr) + share)
        cursor = boundary


def derive_minutes(readings: Sequence[Reading], params: EnergyParams) -> dict[int, MinuteEnergy]:
    """Energy, peak power and sample counts per UTC minute for one device.

    ``readings`` must be one device's readings sorted by time with unique timestamps. The energy of the
    interval between two readings is spread over the minutes it covers; each reading's own power and
    count go to the minute it was taken in.
    """
    out: dict[int, MinuteEnergy] = {}
    imports, exports = _Counter(), _Counter()
    previous: Reading | None = None
    for reading in readings:
        key = floor_minute(reading.ts_ms)
        minute = out.get(key)
        if minute is None:
            minute = out[key] = MinuteEnergy(key)
        minute.samples += 1
        power = reading.power_w
        if power is not None and (minute.peak_power_w is None or power > minute.peak_power_w):
            minute.peak_power_w = power
        if previous is not None:
            _interval(out, previous, reading, imports, exports, params)
        elif reading.energy_wh is not None:
            imports.reference = reading.energy_wh
            exports.reference = reading.export_wh
        previous = reading
        anomalies = len(imports.anomalies) + len(exports.anomalies)
        if anomalies:
            minute.anomalies += anomalies
            imports.anomalies.clear()
            exports.anomalies.clear()
    return out


def _interval(
    out: dict[int, MinuteEnergy],
    a: Reading,
    b: Reading,
    imports: _Counter,
    exports: _Counter,
    params: EnergyParams,
) -> None:
    dt = b.ts_ms - a.ts_ms
    if b.energy_wh is not None and a.energy_wh is not None:
        wh = imports.step(b.energy_wh, dt, params)
    elif a.power_w is not None and b.power_w is not None and dt <= params.max_gap_ms:
        # No counter: trapezoidal integration of import power, only across short gaps.
        wh = (max(a.power_w, 0.0) + max(b.power_w, 0.0)) / 2 * dt / _HOUR_MS
    else:
        wh = 0.0
        if b.energy_wh is not None:
            imports.step(b.energy_wh, dt, params)
    _spread(out, a.ts_ms, b.ts_ms, round(wh * 1000), "import_mwh")
    if b.export_wh is not None:
        export = exports.step(b.export_wh, dt, params)
        _spread(out, a.ts_ms, b.ts_ms, round(export * 1000), "export_mwh")


def minutes_between(start_ms: int, end_ms: int) -> Iterable[int]:
    """Every minute start in [floor(start), end)."""
    return range(floor_minute(start_ms), end_ms, MINUTE_MS)
