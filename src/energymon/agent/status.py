"""What the agent is doing, as one line a person can read (and as data for tests and tools)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["AgentStatus"]


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 90:
        return f"{seconds:.1f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


@dataclass
class AgentStatus:
    device_id: str
    state: str = "starting"
    broker: str = ""
    backlog: int = 0
    oldest_age_s: float | None = None
    in_flight: int = 0
    last_puback_age_s: float | None = None
    readings_buffered: int = 0
    messages_acked: int = 0
    readings_acked: int = 0
    dropped: int = 0
    refused: int = 0
    bad_input: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        oldest = f" (oldest {_age(self.oldest_age_s).removesuffix(' ago')} old)" if self.backlog else ""
        bad = sum(self.bad_input.values())
        bad_detail = f" ({', '.join(f'{k} {v}' for k, v in sorted(self.bad_input.items()))})" if bad else ""
        return (
            f"{self.device_id} · {self.state} · {self.broker} · backlog {self.backlog} readings{oldest}"
            f" · in flight {self.in_flight} · last PUBACK {_age(self.last_puback_age_s)}"
            f" · acked {self.readings_acked} readings in {self.messages_acked} messages"
            f" · dropped {self.dropped} · refused {self.refused} · bad input {bad}{bad_detail}"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
