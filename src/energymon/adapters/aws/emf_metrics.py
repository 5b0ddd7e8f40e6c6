"""Metrics as CloudWatch Embedded Metric Format lines, through Powertools ``Metrics``.

Unlabelled metrics are buffered and written at ``flush`` (the end of an invocation); a labelled one
(``reason=...``) becomes its own EMF line with those labels as dimensions.
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics as PowertoolsMetrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from energymon.ports import Metrics

__all__ = ["EmfMetrics"]


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
