"""The read side: devices with status, power and energy series, cost, 'today' — over any store.

The CLI, the HTTP API, the dashboard's live feed and the local runtime's status table all call
:class:`QueryService`; none of them computes a period, a gap, a cost or a day itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from energymon.application.periods import STEP_MS, expected_periods, local_today, period_end_ms, period_label
from energymon.domain.costing import period_costs
from energymon.domain.tariffs import TariffNotDefined
from energymon.domain.timebuckets import zone
from energymon.errors import EnergymonError

if TYPE_CHECKING:
    from collections.abc import Callable
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from energymon.domain.reading import Reading
    from energymon.domain.tariffs import Tariff
    from energymon.ports import DeviceSummary, Period, StoreReader

__all__ = [
    "DeviceView", "EnergyReport", "EnergyRow", "PeriodReport", "PowerPoint", "QueryService", "TodayView",
    "UnknownDevice",
]

_GAP_MIN_MS = 30_000  # raw power: a pause longer than this (and than 3 typical steps) is drawn as a gap


class UnknownDevice(EnergymonError):
    def __init__(self, device_id: str, known: list[str]) -> None:
        super().__init__(f"unknown device {device_id!r}")
        self.device_id = device_id
        self.known = known


@dataclass(frozen=True, slots=True)
class PeriodReport:
    """A stored period with its cost over the whole period (what ``energymon query`` lists)."""

    period: str
    start_ms: int
    end_ms: int
    import_kwh: float
    export_kwh: float
    peak_power_w: float | None
    samples: int
    cost: Decimal | None
    currency: str | None
    gap_minutes: int = 0


@dataclass(frozen=True, slots=True)
class DeviceView:
    device_id: str
    timezone: str
    status: str  # "online" | "stale" | "never"
    last_seen_ms: int | None
    last_seen: str | None
    last_seen_age_s: float | None
    power_w: float | None
    energy_wh: float | None
    readings: int


@dataclass(frozen=True, slots=True)
class PowerPoint:
    t: int
    power_w: float | None
    peak_w: float | None = None


@dataclass(frozen=True, slots=True)
class EnergyRow:
    """One expected period of a range: its data (None for a period without any), flags and cost."""

    start: str
    start_ms: int
    import_kwh: float | None
    export_kwh: float | None
    peak_power_w: float | None
    samples: int
    cost: float | None
    gap: bool
    gap_minutes: int
    partial: bool


@dataclass(frozen=True, slots=True)
class EnergyReport:
    device_id: str
    timezone: str
    period: str
    from_ms: int
    to_ms: int
    total_import_kwh: float
    total_export_kwh: float
    gaps: int
    currency: str | None
    total_cost: float | None
    periods: list[EnergyRow]


@dataclass(frozen=True, slots=True)
class TodayView:
    device_id: str
    timezone: str
    day: str
    import_kwh: float
    export_kwh: float
    peak_power_w: float | None
    cost: float | None
    currency: str | None
    power_w: float | None
    last_seen_ms: int | None


class QueryService:
    """Everything a user (or an alert rule) reads, over the read side of any store."""

    def __init__(
        self,
        store: StoreReader,
        zones: Callable[[str], str],
        tariff: Tariff | None = None,
        *,
        tariffs: Callable[[str], Tariff | None] | None = None,
        clock: Callable[[], float] = time.time,
        online_within_s: float = 120.0,
    ) -> None:
        """``tariff`` is the default; ``tariffs`` (e.g. ``SharedSettings.tariff_of``) gives each device its own."""
        self.store = store
        self.zones = zones
        self.tariff = tariff
        self.tariffs = tariffs
        self.clock = clock
        self.online_within_s = online_within_s

    @property
    def currency(self) -> str | None:
        """The default tariff's currency (a device with its own tariff: :meth:`currency_of`)."""
        return self.tariff.currency if self.tariff else None

    def tariff_of(self, device_id: str) -> Tariff | None:
        return self.tariffs(device_id) if self.tariffs is not None else self.tariff

    def currency_of(self, device_id: str) -> str | None:
        tariff = self.tariff_of(device_id)
        return tariff.currency if tariff else None

    # ------------------------------------------------------------------------------------------ devices
    def summaries(self) -> list[DeviceSummary]:
        return self.store.devices()

    def device(self, device_id: str) -> DeviceSummary:
        """The device's summary; :class:`UnknownDevice` (naming the known ones) if the store has never seen it."""
        summaries = self.store.devices()
        for summary in summaries:
            if summary.device_id == device_id:
                return summary
        raise UnknownDevice(device_id, sorted(s.device_id for s in summaries))

    def devices(self) -> list[DeviceView]:
        now = self.clock()
        return [self._view(s, now) for s in self.store.devices()]

    def view(self, summary: DeviceSummary) -> DeviceView:
        """The device's status (online, stale, never) and latest reading, now."""
        return self._view(summary, self.clock())

    def _view(self, s: DeviceSummary, now: float) -> DeviceView:
        tz_name = self.zones(s.device_id)
        age = None if s.last_ts_ms is None else max(0.0, now - s.last_ts_ms / 1000)
        status = "never" if age is None else "online" if age <= self.online_within_s else "stale"
        last_seen = None if s.last_ts_ms is None else datetime.fromtimestamp(
            s.last_ts_ms / 1000, zone(tz_name)).isoformat(timespec="seconds")
        return DeviceView(s.device_id, tz_name, status, s.last_ts_ms, last_seen, age, s.last_power_w,
                          s.last_energy_wh, s.readings)

    # -------------------------------------------------------------------------------------------- power
    def readings(self, device_id: str, start_ms: int, end_ms: int) -> list[Reading]:
        """Raw readings with start <= ts < end, in time order."""
        return [r for r in self.store.readings_around(device_id, start_ms, end_ms - 1) if start_ms <= r.ts_ms < end_ms]

    def recent_power(self, device_id: str, window_ms: int) -> list[Reading]:
        """The device's readings of the last ``window_ms`` (what a power alert rule looks at)."""
        now_ms = int(self.clock() * 1000)
        return self.readings(device_id, now_ms - window_ms, now_ms + 1)

    def power_series(self, device_id: str, resolution: str, start_ms: int, end_ms: int, tz_name: str
                     ) -> list[PowerPoint]:
        """Raw readings with a null point where they paused, or per-minute average power and peak."""
        if resolution == "raw":
            return _with_gap_markers(self.readings(device_id, start_ms, end_ms))
        rows = {p.start_ms: p for p in self.store.periods(device_id, "minute", start_ms, end_ms, tz_name)}
        points = []
        for key, _ in expected_periods("minute", start_ms, end_ms, zone(tz_name)):
            p = rows.get(int(key))
            points.append(PowerPoint(int(key), None if p is None else round(p.import_kwh * 60_000, 3),
                                     None if p is None else p.peak_power_w))
        return points

    # ------------------------------------------------------------------------------------------- energy
    def energy_series(self, device_id: str, resolution: str, start_ms: int, end_ms: int, tz_name: str
                      ) -> EnergyReport:
        """Every period of [start, end) cut in ``tz_name``, with gap and partial flags and cost in the range."""
        tz = zone(tz_name)
        stored = self.store.periods(device_id, resolution, start_ms, end_ms, tz_name)
        by_key: dict[str | int, Period] = {(p.start_ms if resolution in STEP_MS else p.start): p for p in stored}
        expected = expected_periods(resolution, start_ms, end_ms, tz)
        ends = [expected[i + 1][1] if i + 1 < len(expected) else period_end_ms(resolution, s, tz)
                for i, (_, s) in enumerate(expected)]
        costs = self._costs(device_id, resolution, [(max(s, start_ms), min(e, end_ms))
                                                   for (_, s), e in zip(expected, ends, strict=True)], tz)
        now = int(self.clock() * 1000)
        rows = [
            _energy_row(by_key.get(key), period_label(resolution, key, tz), s, cost,
                        partial=s < start_ms or e > end_ms or e > now, started=s <= now)
            for (key, s), e, cost in zip(expected, ends, costs, strict=True)
        ]
        return EnergyReport(
            device_id, tz_name, resolution, start_ms, end_ms,
            total_import_kwh=round(sum(p.import_kwh for p in stored), 6),
            total_export_kwh=round(sum(p.export_kwh for p in stored), 6),
            gaps=sum(1 for r in rows if r.gap), currency=self.currency_of(device_id),
            total_cost=None if self.tariff_of(device_id) is None else round(sum(r.cost or 0 for r in rows), 4),
            periods=rows,
        )

    def consumption(self, device_id: str, resolution: str, start_ms: int, end_ms: int) -> list[PeriodReport]:
        """The stored periods of [start, end) in the device's zone, each costed over the whole period.

        A tariff that does not cover the dates is an error here (:class:`TariffNotDefined`), not a missing cost.
        """
        tz_name = self.zones(device_id)
        tz = zone(tz_name)
        periods = self.store.periods(device_id, resolution, start_ms, end_ms, tz_name)
        bounds = [(p.start_ms, period_end_ms(resolution, p.start_ms, tz)) for p in periods]
        costs: list[Decimal | None] = [None] * len(periods)
        tariff = self.tariff_of(device_id)
        if tariff is not None and periods:
            costs = list(self._decimal_costs(device_id, resolution, bounds, tz))
        return [
            PeriodReport(p.start, start, end, p.import_kwh, p.export_kwh, p.peak_power_w, p.samples, cost,
                         self.currency_of(device_id), p.gap_minutes)
            for p, (start, end), cost in zip(periods, bounds, costs, strict=True)
        ]

    def _decimal_costs(self, device_id: str, resolution: str, bounds: list[tuple[int, int]], tz: ZoneInfo
                       ) -> list[Decimal]:
        tariff = self.tariff_of(device_id)
        assert tariff is not None
        return list(period_costs(tariff, bounds, tz, lambda ranges: self.store.energy_sums(device_id, ranges),
                                 standing_charges=resolution in ("day", "month")))

    def _costs(self, device_id: str, resolution: str, bounds: list[tuple[int, int]], tz: ZoneInfo
               ) -> list[float | None]:
        """Cost per [start, end) (standing charges for days and months), rounded; None without a tariff."""
        if self.tariff_of(device_id) is None or not bounds:
            return [None] * len(bounds)
        try:
            costs = self._decimal_costs(device_id, resolution, bounds, tz)
        except TariffNotDefined:
            return [None] * len(bounds)  # the tariff does not cover these dates: no cost rather than a guess
        return [round(float(c), 4) for c in costs]

    # -------------------------------------------------------------------------------------------- today
    def today(self, summary: DeviceSummary) -> TodayView:
        """The device's local day so far, with its cost and the latest power."""
        tz_name = self.zones(summary.device_id)
        tz = zone(tz_name)
        day, start, end = local_today(self.clock(), tz)
        days = self.store.periods(summary.device_id, "day", start, end, tz_name)
        peaks = [p.peak_power_w for p in days if p.peak_power_w is not None]
        return TodayView(
            summary.device_id, tz_name, day,
            import_kwh=round(sum(p.import_kwh for p in days), 6),
            export_kwh=round(sum(p.export_kwh for p in days), 6),
            peak_power_w=max(peaks) if peaks else None,
            cost=self._costs(summary.device_id, "day", [(start, end)], tz)[0],
            currency=self.currency_of(summary.device_id),
            power_w=summary.last_power_w, last_seen_ms=summary.last_ts_ms,
        )

    def today_all(self) -> list[TodayView]:
        return [self.today(s) for s in self.store.devices()]

    def energy_today_kwh(self, device_id: str) -> float:
        """Import energy of the device's local day so far (the status table; what a daily alert rule needs)."""
        tz_name = self.zones(device_id)
        _, start, end = local_today(self.clock(), zone(tz_name))
        return round(sum(p.import_kwh for p in self.store.periods(device_id, "day", start, end, tz_name)), 6)


def _energy_row(p: Period | None, label: str, start_ms: int, cost: float | None, *, partial: bool, started: bool
                ) -> EnergyRow:
    if p is None:
        return EnergyRow(label, start_ms, None, None, None, 0, None, gap=started, gap_minutes=0, partial=partial)
    return EnergyRow(p.start, start_ms, round(p.import_kwh, 6), round(p.export_kwh, 6), p.peak_power_w, p.samples,
                     cost, gap=p.gap_minutes > 0, gap_minutes=p.gap_minutes, partial=partial)


def _with_gap_markers(readings: list[Reading]) -> list[PowerPoint]:
    step = _typical_step_ms(readings)
    points: list[PowerPoint] = []
    previous = None
    for r in readings:
        if previous is not None and r.ts_ms - previous > max(3 * step, _GAP_MIN_MS):
            points.append(PowerPoint(previous + 1, None))
        points.append(PowerPoint(r.ts_ms, r.power_w))
        previous = r.ts_ms
    return points


def _typical_step_ms(readings: list[Reading]) -> int:
    if len(readings) < 2:
        return 1000
    steps = sorted(b.ts_ms - a.ts_ms for a, b in zip(readings, readings[1:], strict=False))
    return max(1, steps[len(steps) // 2])
