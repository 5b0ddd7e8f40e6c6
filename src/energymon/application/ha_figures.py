"""What energymon tells Home Assistant about each device: figures from the read side, never from raw counters.

The energy totals are the sum of the stored (derived) rollups since the device's first reading, so they only
ever grow: a meter whose own counter resets or jumps does not make them drop or spike, which is what Home
Assistant's ``total_increasing`` energy sensors need (a drop there is read as a new meter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from energymon.application.periods import local_today
from energymon.domain.timebuckets import zone

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from energymon.application.alerts import RuleStatus
    from energymon.application.queries import QueryService

__all__ = ["DeviceFigures", "device_figures", "lifetime_kwh"]


@dataclass(frozen=True)
class DeviceFigures:
    device_id: str
    label: str | None
    import_kwh: float  # derived import since the first reading
    export_kwh: float
    power_w: float | None
    online: bool  # a reading within the read side's "online" window
    today_import_kwh: float
    cost_today: float | None
    currency: str | None  # None: the device has no tariff (no cost sensor)
    day_start: str  # the local midnight today's cost counts from (ISO 8601 with offset)
    alerts: dict[str, bool] = field(default_factory=dict)  # rule name -> firing


def lifetime_kwh(queries: QueryService, device_id: str, now_ms: int) -> tuple[float, float]:
    """(import, export) kWh of every stored month of the device: the sum of derived energy, never a counter."""
    tz_name = queries.zones(device_id)
    months = queries.store.periods(device_id, "month", 0, now_ms + 1, tz_name)
    return round(sum(m.import_kwh for m in months), 6), round(sum(m.export_kwh for m in months), 6)


def device_figures(queries: QueryService, statuses: Iterable[RuleStatus],
                   labels: Callable[[str], str | None] = lambda _d: None) -> list[DeviceFigures]:
    """One :class:`DeviceFigures` per device the store knows, as of the query service's clock."""
    now_s = queries.clock()
    firing: dict[str, dict[str, bool]] = {}
    for status in statuses:
        if not status.no_data_yet:
            firing.setdefault(status.device_id, {})[status.rule.name] = bool(status.state and status.state.active)
    summaries = {s.device_id: s for s in queries.summaries()}
    out = []
    for view in queries.devices():
        summary = summaries.get(view.device_id)
        if summary is None:  # stored between the two reads: next time
            continue
        today = queries.today(summary)
        imported, exported = lifetime_kwh(queries, view.device_id, int(now_s * 1000))
        tz = zone(view.timezone)
        _, start_ms, _ = local_today(now_s, tz)
        out.append(DeviceFigures(
            view.device_id, labels(view.device_id), imported, exported, view.power_w, view.status == "online",
            today.import_kwh, today.cost, today.currency,
            datetime.fromtimestamp(start_ms / 1000, tz).isoformat(timespec="seconds"),
            firing.get(view.device_id, {}),
        ))
    return out
