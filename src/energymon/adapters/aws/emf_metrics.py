"""The processor's metrics on AWS, in one of three modes (``METRICS_MODE``, set by Terraform's ``metrics_mode``).

* ``emf`` (the fleet default): every metric as CloudWatch Embedded Metric Format, through Powertools ``Metrics``.
  Unlabelled metrics are buffered and written at ``flush`` (the end of an invocation); a labelled one
  (``reason=...``) becomes its own EMF line with those labels as dimensions, so each label value is a metric
  of its own (0.30 USD a month each).
* ``emf_lean``: EMF for the three metrics that say whether data flows (readings processed, readings rejected,
  batch latency), without labels: three custom metrics whatever happens. The reasons stay in the dead letters.
* ``log_filters``: no EMF at all. Each metric is one structured JSON log line
  (``{"energymon_metric": "readings_processed", "value": 12, "unit": "Count", ...}``) and the CloudWatch Logs
  metric filters Terraform puts on the function's log group turn the lean three into metrics; the other lines
  cost log ingestion only and can be searched with Logs Insights.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from typing import TextIO

from aws_lambda_powertools import Metrics as PowertoolsMetrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from energymon.errors import ConfigError
from energymon.ports import Metrics

__all__ = ["LEAN_METRICS", "METRICS_MODES", "METRIC_LOG_KEY", "EmfMetrics", "LeanEmfMetrics", "LogLineMetrics",
           "metrics_for_mode"]

#: The values of METRICS_MODE (Terraform's metrics_mode validation lists the same).
METRICS_MODES = ("emf", "emf_lean", "log_filters", "logs_only")
#: What the lean profile keeps: whether readings flow, are refused, and how long a batch takes.
LEAN_METRICS = frozenset({"readings_processed", "readings_rejected", "batch_seconds"})
#: The JSON key of a metric log line (modules/processor's metric filters match ``$.energymon_metric``).
METRIC_LOG_KEY = "energymon_metric"


def _unit(name: str) -> MetricUnit:
    return MetricUnit.Seconds if name.endswith("_seconds") else MetricUnit.Count


class EmfMetrics(Metrics):
    def __init__(self, namespace: str, service: str) -> None:
        self.namespace = namespace
        self.service = service
        self._metrics = PowertoolsMetrics(namespace=namespace, service=service)

    def _labelled(self, name: str, value: float, labels: dict[str, str]) -> None:
        with single_metric(name=name, unit=_unit(name), value=value, namespace=self.namespace,
                           default_dimensions={"service": self.service}) as metric:
            for key, label in sorted(labels.items()):
                metric.add_dimension(name=key, value=label)

    def count(self, name: str, value: float = 1, **labels: str) -> None:
        if labels:
            self._labelled(name, value, labels)
        else:
            self._metrics.add_metric(name=name, unit=_unit(name), value=value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        self.count(name, value, **labels)

    def flush(self) -> None:
        self._metrics.flush_metrics(raise_on_empty_metrics=False)


class LeanEmfMetrics(EmfMetrics):
    """EMF for LEAN_METRICS only, labels dropped: a fixed three custom metrics."""

    def count(self, name: str, value: float = 1, **labels: str) -> None:
        if name in LEAN_METRICS:
            super().count(name, value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        self.count(name, value)


class LogLineMetrics(Metrics):
    """One JSON line per metric and label set at ``flush``: counts summed over the invocation, observations
    each on a line of their own (a metric filter publishes every matching line's value)."""

    def __init__(self, service: str, out: TextIO | None = None) -> None:
        self.service = service
        self._out = out
        self._counts: dict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
        self._observed: list[tuple[str, float, tuple[tuple[str, str], ...]]] = []

    def count(self, name: str, value: float = 1, **labels: str) -> None:
        self._counts[name, tuple(sorted(labels.items()))] += value

    def observe(self, name: str, value: float, **labels: str) -> None:
        self._observed.append((name, value, tuple(sorted(labels.items()))))

    def _line(self, name: str, value: float, labels: tuple[tuple[str, str], ...]) -> str:
        body = {METRIC_LOG_KEY: name, "value": value, "unit": _unit(name).value, "service": self.service,
                **dict(labels)}
        return json.dumps(body, separators=(",", ":"))

    def flush(self) -> None:
        lines = [self._line(name, value, labels) for (name, labels), value in sorted(self._counts.items())]
        lines += [self._line(name, value, labels) for name, value, labels in self._observed]
        self._counts.clear()
        self._observed.clear()
        if lines:
            out = self._out or sys.stdout  # stdout, as EMF: each line is one log event of the function
            out.write("\n".join(lines) + "\n")
            out.flush()


def metrics_for_mode(mode: str, namespace: str, service: str) -> Metrics:
    """The Metrics adapter METRICS_MODE names; an unknown mode is a ConfigError listing the known ones."""
    if mode == "emf":
        return EmfMetrics(namespace, service)
    if mode == "emf_lean":
        return LeanEmfMetrics(namespace, service)
    if mode in ("log_filters", "logs_only"):
        # logs_only: the same lines, and no metric filter turns them into (billed) custom metrics; Logs
        # Insights reads them, and the lean alarms watch only the metrics AWS publishes for free.
        return LogLineMetrics(service)
    raise ConfigError(f"METRICS_MODE {mode!r} is not one of {', '.join(METRICS_MODES)}")
