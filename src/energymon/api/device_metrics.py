"""Per-device gauges for ``/metrics``: live power, derived energy (lifetime and today), today's cost.

Read from the query service at scrape time, so Prometheus (and the Grafana dashboard in ``grafana/``)
shows the same numbers as ``energymon query`` and the API. The lifetime energy is the sum of the
store's month rollups: energymon's derived, reset- and spike-corrected energy, which does not drop
when a meter's own counter is reset. It is a gauge, not a counter: late data or a recomputation may
correct it by a few Wh either way, and a counter that goes down would read as a reset to ``rate()``.

Cardinality is bounded: one series per device (and per direction), and at most ``max_devices``
devices, in device-id order; the number left out is a metric of its own.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily

if TYPE_CHECKING:
    from collections.abc import Iterator

    from energymon.application.queries import QueryService
    from energymon.ports import DeviceSummary

__all__ = ["MAX_DEVICES", "DeviceCollector"]

log = logging.getLogger(__name__)

_DAY_MS = 86_400_000
MAX_DEVICES = 200  # a home has a handful; past this a scrape stays small rather than complete


class DeviceCollector:
    """A prometheus_client collector over one :class:`QueryService`."""

    def __init__(self, service: QueryService, max_devices: int = MAX_DEVICES) -> None:
        if max_devices < 1:
            raise ValueError(f"max_devices must be at least 1, got {max_devices}")
        self.service = service
        self.max_devices = max_devices

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
            import_kwh, export_kwh = self._lifetime_kwh(device, now_s)
            lifetime.add_metric([device, "import"], import_kwh)
            lifetime.add_metric([device, "export"], export_kwh)
            view = service.today(summary)
            today.add_metric([device, "import"], view.import_kwh)
            today.add_metric([device, "export"], view.export_kwh)
            if view.cost is not None and view.currency is not None:
                cost.add_metric([device, view.currency], view.cost)
        return [power, seen, online, lifetime, today, cost]

    def _lifetime_kwh(self, device_id: str, now_s: float) -> tuple[float, float]:
        # Month rollups are never purged (retention trims raw readings only): a handful of rows per device.
        # The range runs a day past now so a device whose clock is a little ahead still counts in full.
        months = self.service.store.periods(device_id, "month", 0, int(now_s * 1000) + _DAY_MS,
                                            self.service.zones(device_id))
        return (round(sum(m.import_kwh for m in months), 6), round(sum(m.export_kwh for m in months), 6))
