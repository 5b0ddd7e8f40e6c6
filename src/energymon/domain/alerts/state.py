"""The state of one (rule, device): OK → PENDING → FIRING → RESOLVED (→ OK), and the notifications it sends.

Only a change between FIRING and RESOLVED notifies. ``Transitions`` applies them with flapping folded in:
the 4th change within 30 minutes sends one "flapping" notification instead, then nothing until the alert has
kept its state for 30 minutes; then its current state is sent once (its key may already have been sent, and
the outbox sends a key once).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from energymon.domain.alerts.notification import Notification, NotificationState

if TYPE_CHECKING:
    from energymon.domain.alerts.rules import AlertRule

__all__ = ["FLAP_CHANGES", "FLAP_WINDOW_MS", "IncidentState", "Outcome", "Status", "Transitions"]

Status = Literal["ok", "pending", "firing", "resolved"]
FLAP_WINDOW_MS = 30 * 60_000
FLAP_CHANGES = 4


@dataclass(frozen=True)
class IncidentState:
    """What is stored per (rule, device); ``version`` guards conditional writes (0: never stored)."""

    rule: str
    device_id: str
    status: Status = "ok"
    pending_since_ms: int | None = None  # the condition has held since (PENDING, or FIRING's clear condition)
    clear_since_ms: int | None = None  # FIRING: the clear condition has held since
    started_at_ms: int | None = None  # the current (or last) incident's start
    ended_at_ms: int | None = None  # the last incident's end
    value: float | None = None  # the value that crossed (or the latest one seen)
    threshold: float | None = None
    cursor_ms: int = 0  # data evaluated up to here (instant rules: the end of the last minute looked at)
    period: str = ""  # the local day/month/night the incident (or the last check) belongs to
    level: str = ""  # energy_budget: "warn" | "limit"
    changes: tuple[int, ...] = ()  # times of the notifying changes of the last 30 minutes
    flapping: bool = False
    updated_at_ms: int = 0
    version: int = 0

    @property
    def active(self) -> bool:
        return self.status == "firing"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["changes"] = list(self.changes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IncidentState:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["changes"] = tuple(int(c) for c in values.get("changes", ()))
        return cls(**values)


@dataclass(frozen=True)
class Outcome:
    state: IncidentState
    notifications: tuple[Notification, ...] = ()
    # False: nothing worth storing changed (a replayed batch, a quiet tick)
    changed: bool = False


@dataclass
class Transitions:
    """Builds one evaluation's outcome: the state as it goes, and what to send."""

    rule: AlertRule
    state: IncidentState
    notifications: list[Notification] = field(default_factory=list)
    _start: IncidentState | None = None

    def __post_init__(self) -> None:
        self._start = self.state

    def update(self, **changes: Any) -> None:
        self.state = replace(self.state, **changes)

    def fire(self, at_ms: int, started_at_ms: int, value: float | None, threshold: float | None,
             message: str, **changes: Any) -> None:
        self.update(status="firing", started_at_ms=started_at_ms, ended_at_ms=None, pending_since_ms=None,
                    clear_since_ms=None, value=value, threshold=threshold, **changes)
        self._announce(at_ms, self._notification("firing", started_at_ms, value, threshold, message))

    def escalate(self, at_ms: int, value: float | None, threshold: float | None, message: str,
                 **changes: Any) -> None:
        """A firing incident crossed a further level (a budget's limit after its warning): its own notification."""
        self.update(value=value, threshold=threshold, **changes)
        self._announce(at_ms, self._notification("firing", at_ms, value, threshold, message))

    def resolve(self, at_ms: int, ended_at_ms: int, value: float | None, message: str, **changes: Any) -> None:
        started = self.state.started_at_ms
        assert started is not None
        self.update(status="resolved", ended_at_ms=ended_at_ms, pending_since_ms=None, clear_since_ms=None,
                    value=value, **changes)
        self._announce(at_ms, self._notification("resolved", started, value, self.state.threshold, message,
                                                 ended_at_ms=ended_at_ms))

    def settle(self, at_ms: int) -> None:
        """After 30 minutes without a change: flapping ends (sending the current state), RESOLVED becomes OK."""
        s = self.state
        if s.changes and at_ms - s.changes[-1] < FLAP_WINDOW_MS:
            return
        if s.flapping and s.started_at_ms is not None:
            self.update(flapping=False, changes=())
            if s.status == "firing":
                self.notifications.append(self._notification(
                    "firing", s.started_at_ms, s.value, s.threshold, f"{self._what()} is still firing after "
                    "flapping; it has kept this state for 30 minutes"))
            else:
                self.notifications.append(self._notification(
                    "resolved", s.started_at_ms, s.value, s.threshold, f"{self._what()} is stable again after "
                    "flapping (resolved for 30 minutes)", ended_at_ms=s.ended_at_ms))
        if self.state.status == "resolved":
            self.update(status="ok", changes=())

    def outcome(self, now_ms: int) -> Outcome:
        changed = self.state != self._start
        state = replace(self.state, updated_at_ms=now_ms) if changed else self.state
        return Outcome(state, tuple(self.notifications), changed)

    # ------------------------------------------------------------------------------------------------------
    def _announce(self, at_ms: int, notification: Notification) -> None:
        recent = tuple(c for c in self.state.changes if at_ms - c < FLAP_WINDOW_MS) + (at_ms,)
        self.update(changes=recent)
        if self.state.flapping:
            return  # quiet until stable (settle)
        if len(recent) >= FLAP_CHANGES:
            self.update(flapping=True)
            self.notifications.append(replace(
                notification, state="flapping", started_at_ms=self.state.started_at_ms or at_ms, ended_at_ms=None,
                message=f"{self._what()} changed state {len(recent)} times in 30 minutes: flapping; no more "
                        "notifications until it keeps one state for 30 minutes"))
            return
        self.notifications.append(notification)

    def _what(self) -> str:
        return f"{self.rule.name} ({self.rule.kind}) on {self.state.device_id}"

    def _notification(self, state: NotificationState, started_at_ms: int, value: float | None,
                      threshold: float | None, message: str, ended_at_ms: int | None = None) -> Notification:
        return Notification(self.rule.name, self.rule.kind, self.state.device_id, state, started_at_ms,
                            None if value is None else round(value, 3), threshold, self.rule.unit, ended_at_ms,
                            self.rule.critical, message)
