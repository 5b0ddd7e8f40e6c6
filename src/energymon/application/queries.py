"""The query port: what the CLI, the HTTP API and the dashboard read — consumption, cost and gaps per period."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from energymon.domain.costing import period_costs
from energymon.domain.timebuckets import local_day_bounds_ms, zone

if TYPE_CHECKING:
    from decimal import Decimal

    from energymon.domain.tariffs import Tariff
    from energymon.ports import Period, Store
    from energymon.processing import ZoneResolver

__all__ = ["PeriodReport", "QueryService"]

_STEP_MS = {"minute": 60_000, "hour": 3_600_000}


@dataclass(frozen=True, slots=True)
class PeriodReport:
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


class QueryService:
    def __init__(self, store: Store, zones: ZoneResolver, tariff: Tariff | None = None) -> None:
        self.store = store
        self.zones = zones
        self.tariff = tariff

    def consumption(self, device_id: str, resolution: str, start_ms: int, end_ms: int) -> list[PeriodReport]:
        tz_name = self.zones(device_id)
        tz = zone(tz_name)
        periods = self.store.periods(device_id, resolution, start_ms, end_ms, tz_name)
        bounds = [(p.start_ms, _period_end(p, resolution, tz_name)) for p in periods]
        costs: list[Decimal | None] = [None] * len(periods)
        if self.tariff is not None and periods:
            costs = list(
                period_costs(
                    self.tariff, bounds, tz,
                    lambda ranges: self.store.energy_sums(device_id, ranges),
                    standing_charges=resolution in ("day", "month"),
                )
            )
        currency = self.tariff.currency if self.tariff else None
        return [
            PeriodReport(p.start, start, end, p.import_kwh, p.export_kwh, p.peak_power_w, p.samples, cost, currency,
                         p.gap_minutes)
            for p, (start, end), cost in zip(periods, bounds, costs, strict=True)
        ]


def _period_end(period: Period, resolution: str, tz_name: str) -> int:
    if resolution in _STEP_MS:
        return period.start_ms + _STEP_MS[resolution]
    tz = zone(tz_name)
    if resolution == "day":
        return local_day_bounds_ms(period.start, tz)[1]
    year, month = int(period.start[:4]), int(period.start[5:7])
    first_next = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return int(first_next.timestamp() * 1000)
