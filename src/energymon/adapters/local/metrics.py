"""Local metrics: a Prometheus registry (scraped by ``/metrics`` and read by the live view)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from energymon.ports import Metrics

__all__ = ["PrometheusMetrics"]

_HELP = {
    "readings_processed": "Readings written to the store",
    "readings_rejected": "Readings rejected, by reason",
    "device_write_failures": "Device groups whose store write failed (retried)",
    "batch_seconds": "Time the processor spent on one batch",
    "bridge_messages": "MQTT messages appended to the stream by the bridge",
    "poller_batches": "Batches the poller handed to the processor",
    "poller_dead_lettered": "Records the poller gave up on and sent to the on-failure destination",
    "alert_notifications_sent": "Alert notifications a channel took, by channel",
    "alert_notifications_failed": "Alert notification attempts that failed (retried with backoff), by channel",
    "alert_notifications_deferred": "Alert notifications held until a channel's quiet hours end, by channel",
}


class PrometheusMetrics(Metrics):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self._counters: dict[tuple[str, tuple[str, ...]], Counter] = {}
        self._histograms: dict[str, Histogram] = {}

    def count(self, name: str, value: float = 1, **labels: str) -> None:
        key = (name, tuple(sorted(labels)))
        counter = self._counters.get(key)
        if counter is None:
            counter = Counter(
                f"energymon_{name}", _HELP.get(name, name), list(key[1]), registry=self.registry
            )
            self._counters[key] = counter
        (counter.labels(**labels) if labels else counter).inc(value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        histogram = self._histograms.get(name)
        if histogram is None:
            histogram = Histogram(f"energymon_{name}", _HELP.get(name, name), registry=self.registry)
            self._histograms[name] = histogram
        histogram.observe(value)

    def total(self, name: str) -> float:
        """Sum of a counter over all its labels (for the live view and tests)."""
        value = self.registry.get_sample_value(f"energymon_{name}_total")
        if value is not None:
            return value
        return sum(
            sample.value
            for metric in self.registry.collect()
            if metric.name == f"energymon_{name}"
            for sample in metric.samples
            if sample.name.endswith("_total")
        )
