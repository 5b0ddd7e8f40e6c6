"""Prometheus gauges of alerts, read at scrape time: firing alerts per rule and device, outbox rows waiting."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily

if TYPE_CHECKING:
    from collections.abc import Iterator

    from energymon.ports import AlertOutbox, AlertState

__all__ = ["AlertGauges"]


class AlertGauges:
    def __init__(self, state: AlertState, outbox: AlertOutbox) -> None:
        self.state = state
        self.outbox = outbox

    def collect(self) -> Iterator[Any]:
        firing = GaugeMetricFamily("energymon_alerts_firing", "Alerts firing now (1), by rule and device",
                                   labels=["rule", "device"])
        for s in self.state.states():
            if s.status == "firing":
                firing.add_metric([s.rule, s.device_id], 1)
        yield firing
        pending = self.outbox.pending()
        waiting = GaugeMetricFamily("energymon_alert_outbox_pending", "Notifications not yet delivered, by channel",
                                    labels=["channel"])
        failing = GaugeMetricFamily("energymon_alert_outbox_failing",
                                    "Notifications whose last delivery attempt failed, by channel", labels=["channel"])
        for channel, n in sorted(Counter(i.channel for i in pending).items()):
            waiting.add_metric([channel], n)
        for channel, n in sorted(Counter(i.channel for i in pending if i.last_error).items()):
            failing.add_metric([channel], n)
        yield waiting
        yield failing
