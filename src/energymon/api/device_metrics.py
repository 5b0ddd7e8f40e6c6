"""Per-device gauges for ``/metrics``: live power, derived energy (lifetime and today), today's cost.

Read from the query service at scrape time, so Prometheus (and the Grafana dashboard in ``grafana/``)
shows the same numbers as ``energymon query`` and the API. The lifetime energy is the sum of the
store's day rollups: energymon's derived, reset- and spike-corrected energy, which does not drop
when a meter's own counter is reset. It is a gauge, not a counter: late data or a recomputation may
correct it by a few Wh either way, and a counter that goes down would read as a reset to ``rate()``.

The days before today are summed at most every ``history_ttl_s`` per device (and again when the local
day changes); today is read at every scrape, so lifetime and today always move together. On SQLite the
sum is a few hundred rows; on DynamoDB every hour item of the device's history, which is why it is kept.

Cardinality is bounded: one series per device (and per direction), and at most ``max_devices``
devices, in device-id order; the number left out is a metric of its own.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily

from energymon.domain.timebuckets import local_day_bounds_ms, zone

if TYPE_CHECKING:
    from collections.abc import Iterator

    from energymon.application.queries import QueryService
    from energymon.ports import DeviceSummary

__all__ = ["MAX_DEVICES", "DeviceCollector"]

log = logging.getLogger(__name__)

MAX_DEVICES = 200  # a home has a handful; past this a scrape stays small rather than complete
HISTORY_TTL_S = 300.0


class DeviceCollector:
    """A prometheus_client collector over one :class:`QueryService`."""

    def __init__(self, service: QueryService, max_devices: int = MAX_DEVICES,
                 history_ttl_s: float = HISTORY_TTL_S) -> None:
        if max_devices < 1:
            raise ValueError(f"max_devices must be at least 1, got {max_devices}")
        if history_ttl_s < 0:
            raise ValueError(f"history_ttl_s must be 0 or more, got {history_ttl_s}")
        self.service = service
        self.max_devices = max_devices
        self.history_ttl_s = history_ttl_s
        # device -> (local day, when summed (monotonic s), import kWh, export kWh) of the days before that day
        self._history: dict[str, tuple[str, float, float, float]] = {}

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("energymon_device_metrics_up",
                               "1 when the per-device metrics could be read from the store, 0 when not")
        try:
            summaries = sorted(self.service.summaries(), key=lambda s: s.device_id)
            families = self._families(summaries[:self.max_devices])
        except Exception:  # a scrape reports the fault (and /healthz names it); it never fails
            log.exception("per-device metrics: cannot read the store")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        omitted = GaugeMetricFamily("energymon_device_metrics_omitted_devices",
                                    f"Devices left out of the per-device metrics (at most {self.max_devices})")
        omitted.add_metric([], max(0, len(summaries) - self.max_devices))
        yield omitted
        yield from families

    def _families(self, summaries: list[DeviceSummary]) -> list[GaugeMetricFamily]:
        service = self.service
        now_s = service.clock()
        power = GaugeMetricFamily("energymon_device_power_watts", "Latest power reading of the device",
                                  labels=["device"])
        seen = GaugeMetricFamily("energymon_device_last_seen_timestamp_seconds",
                                 "When the device's latest reading was taken (Unix time)", labels=["device"])
        online = GaugeMetricFamily("energymon_device_online",
                                   f"1 when the device sent a reading in the last {service.online_within_s:g} s",
                                   labels=["device"])
        lifetime = GaugeMetricFamily("energymon_device_energy_kwh",
                                     "Derived energy since the device's first reading (reset- and spike-corrected)",
                                     labels=["device", "direction"])
        today = GaugeMetricFamily("energymon_device_energy_today_kwh",
                                  "Derived energy of the device's local day so far", labels=["device", "direction"])
        cost = GaugeMetricFamily("energymon_device_cost_today",
                                 "Cost of the device's local day so far, standing charge included, in the "
                                 "tariff's currency", labels=["device", "currency"])
        for summary in summaries:
            device = summary.device_id
            if summary.last_power_w is not None:
                power.add_metric([device], summary.last_power_w)
            if summary.last_ts_ms is not None:
                seen.add_metric([device], summary.last_ts_ms / 1000)
                online.add_metric([device], 1 if now_s - summary.last_ts_ms / 1000 <= service.online_within_s else 0)
            else:
                online.add_metric([device], 0)
            view = service.today(summary)
            import_kwh, export_kwh = self._before(device, view.day)
            lifetime.add_metric([device, "import"], round(import_kwh + view.import_kwh, 6))
            lifetime.add_metric([device, "export"], round(export_kwh + view.export_kwh, 6))
            today.add_metric([device, "import"], view.import_kwh)
            today.add_metric([device, "export"], view.export_kwh)
            if view.cost is not None and view.currency is not None:
                cost.add_metric([device, view.currency], view.cost)
        return [power, seen, online, lifetime, today, cost]

    def _before(self, device_id: str, day: str) -> tuple[float, float]:
        """Import and export kWh of every local day before ``day`` (rollups are never purged, readings are)."""
        cached = self._history.get(device_id)
        now = time.monotonic()
        if cached is not None and cached[0] == day and now - cached[1] < self.history_ttl_s:
            return cached[2], cached[3]
        tz_name = self.service.zones(device_id)
        start_ms = local_day_bounds_ms(day, zone(tz_name))[0]
        days = self.service.store.periods(device_id, "day", 0, start_ms, tz_name)
        sums = (sum(d.import_kwh for d in days), sum(d.export_kwh for d in days))
        self._history[device_id] = (day, now, *sums)
        return sums
