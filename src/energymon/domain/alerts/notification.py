"""What an incident's state change sends: one notification, with a key that is the same on every replay.

The evaluator produces these; the outbox keeps one row per (key, channel) so a crash between a state change and
its delivery re-sends at most once more and never loses it; channels turn ``body()`` into their own format.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["NotificationState", "Notification"]

NotificationState = Literal["firing", "resolved", "flapping", "test"]


@dataclass(frozen=True)
class Notification:
    rule: str
    kind: str
    device_id: str
    state: NotificationState
    started_at_ms: int  # when the incident began (for "resolved": the same start as its "firing")
    value: float | None = None  # the value that crossed (or, on resolve, the last value)
    threshold: float | None = None
    unit: str = ""  # "W", "kWh", the tariff's currency, "s"
    ended_at_ms: int | None = None  # set on "resolved"
    critical: bool = False  # critical rules bypass quiet hours
    message: str = ""  # one human sentence, already in the device's time zone

    @property
    def key(self) -> str:
        """Stable across replays and restarts: one incident's one state change."""
        return f"{self.rule}/{self.device_id}/{self.started_at_ms}/{self.state}"

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at_ms is None else (self.ended_at_ms - self.started_at_ms) / 1000

    @property
    def title(self) -> str:
        return f"energymon: {self.rule} {self.state} on {self.device_id}"

    def body(self) -> dict[str, Any]:
        """The JSON every channel carries (a webhook posts exactly this)."""
        out = asdict(self)
        out |= {"key": self.key, "duration_s": self.duration_s,
                "started_at": _iso(self.started_at_ms),
                "ended_at": _iso(self.ended_at_ms) if self.ended_at_ms is not None else None}
        return out


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
