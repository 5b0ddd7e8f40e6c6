"""A processor + alert evaluator over real local adapters on a temporary folder, fed Kinesis-shaped events."""

from __future__ import annotations

import base64
import itertools
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from energymon.adapters.local.alerts import SqliteAlerts
from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.store import SqliteStore
from energymon.application.alerts import AlertEvaluator
from energymon.domain.alerts.rules import parse_rules
from energymon.processing.processor import Processor, ZoneResolver


@dataclass(frozen=True)
class Sample:
    ts_ms: int
    power_w: float
    energy_wh: float | None = None


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def steady(device: str, start_ms: int, end_ms: int, power_at: Any, step_ms: int = 10_000,
           energy_wh: float = 1000.0) -> list[Sample]:
    """Samples every ``step_ms`` in [start, end]; the counter integrates ``power_at(t)`` over each step before t."""
    out = []
    energy = energy_wh
    for ts in range(start_ms, end_ms + 1, step_ms):
        if out:
            energy += power_at(ts - step_ms) * step_ms / 3_600_000
        out.append(Sample(ts, power_at(ts), round(energy, 6)))
    return out


class Rig:
    def __init__(self, root: Path, rules: list[dict[str, Any]], zones: dict[str, str] | None = None,
                 default_zone: str = "UTC") -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.store = SqliteStore(root / "store.db")
        self.alerts = SqliteAlerts(root / "alerts.db")
        self.metrics = PrometheusMetrics()
        self.zones = ZoneResolver(default_zone, zones or {})
        self.rules = parse_rules(rules, {"hook", "phone"})
        self.evaluator = AlertEvaluator(self.rules, self.alerts, self.store, self.zones, metrics=self.metrics)
        self.processor = Processor(self.store, FolderArchive(root / "archive"), SqliteDeadLetters(root / "dlq.db"),
                                   self.metrics, self.zones, alerts=self.evaluator)
        self._seq = itertools.count(1)

    @classmethod
    def over(cls, processor: Processor) -> Rig:
        """A rig that only feeds ``processor`` (a composition root's own)."""
        rig = cls.__new__(cls)
        rig.processor, rig._seq = processor, itertools.count(1)
        return rig

    def event(self, device: str, samples: list[Sample], arrival_ms: int) -> dict[str, Any]:
        body = {"v": 1, "device_id": device, "seq": next(self._seq),
                "samples": [{"ts": iso(s.ts_ms), "power_w": s.power_w,
                             **({"energy_wh": s.energy_wh} if s.energy_wh is not None else {})} for s in samples]}
        seq = f"{next(self._seq):020d}"
        return {"Records": [{
            "kinesis": {"partitionKey": device, "sequenceNumber": seq,
                        "data": base64.b64encode(orjson.dumps(body)).decode(),
                        "approximateArrivalTimestamp": arrival_ms / 1000},
            "eventID": f"shardId-0:{seq}", "eventSource": "aws:kinesis"}]}

    def deliver(self, event: dict[str, Any]) -> None:
        assert self.processor.handle(event) == {"batchItemFailures": []}

    def send(self, device: str, samples: list[Sample], arrival_ms: int) -> None:
        self.deliver(self.event(device, samples, arrival_ms))

    def stream(self, device: str, samples: list[Sample], delay_ms: int = 2_000, tick: Any = None) -> None:
        """One message per sample, arriving ``delay_ms`` after it; ``tick(now_ms)`` before each arrival."""
        for s in samples:
            if tick is not None:
                tick(s.ts_ms + delay_ms)
            self.send(device, [s], s.ts_ms + delay_ms)

    def outbox(self) -> list[tuple[str, str]]:
        return sorted((i.key, i.channel) for i in self.alerts.pending())

    def notifications(self) -> list[tuple[str, int, int | None]]:
        """(state, started_at, ended_at) of every recorded notification, oldest first."""
        return [(e.notification.state, e.notification.started_at_ms, e.notification.ended_at_ms)
                for e in reversed(self.alerts.history(limit=1000))]
