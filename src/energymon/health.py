"""What is working right now: each long-lived component's state, for ``/healthz`` and the runtime's watchdog.

A component is *degraded* while it reports a fault it is retrying (a full disk, a broker it cannot reach)
and *failed* when its thread has died: a failed runtime must not look healthy, it must say which part
stopped and why (invariant 9: no input stops the pipeline; if a component dies anyway, health says so).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ComponentState", "Health", "guarded"]

log = logging.getLogger(__name__)

Status = Literal["ok", "degraded", "failed"]


@dataclass(frozen=True)
class ComponentState:
    name: str
    status: Status
    reason: str = ""
    since_s: float = 0.0
    faults: int = 0  # faults reported since the component was last ok

    def to_dict(self) -> dict[str, object]:
        return {"status": self.status, "reason": self.reason, "since": self.since_s, "faults": self.faults}


class Health:
    """Thread-safe registry of component states and of the threads that must stay alive."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, ComponentState] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._stopping = False

    def watch(self, name: str, thread: threading.Thread) -> None:
        """``thread`` must live until the runtime stops; if it ends earlier, ``name`` is failed."""
        with self._lock:
            self._threads[name] = thread
            self._states.setdefault(name, ComponentState(name, "ok", since_s=self._clock()))

    def ok(self, name: str) -> None:
        with self._lock:
            state = self._states.get(name)
            if state is not None and state.status in ("ok", "failed"):  # a dead thread does not come back
                return
            if state is not None:
                log.warning("%s recovered after %d fault(s)", name, state.faults)
            self._states[name] = ComponentState(name, "ok", since_s=self._clock())

    def degraded(self, name: str, reason: str) -> None:
        with self._lock:
            state = self._states.get(name)
            if state is not None and state.status == "failed":
                return
            faults = state.faults + 1 if state is not None and state.status == "degraded" else 1
            since = state.since_s if state is not None and state.status == "degraded" else self._clock()
            self._states[name] = ComponentState(name, "degraded", reason, since, faults)

    def failed(self, name: str, reason: str) -> None:
        with self._lock:
            self._states[name] = ComponentState(name, "failed", reason, self._clock())

    def stopping(self) -> None:
        """Threads end on purpose from now on: that is not a failure."""
        with self._lock:
            self._stopping = True

    def components(self) -> list[ComponentState]:
        with self._lock:
            if not self._stopping:
                for name, thread in self._threads.items():
                    if not thread.is_alive() and self._states[name].status != "failed":
                        self._states[name] = ComponentState(name, "failed", f"thread {thread.name} has stopped",
                                                            self._clock())
            return sorted(self._states.values(), key=lambda s: s.name)

    def status(self) -> Status:
        states = {s.status for s in self.components()}
        return "failed" if "failed" in states else "degraded" if "degraded" in states else "ok"

    def failures(self) -> list[ComponentState]:
        return [s for s in self.components() if s.status == "failed"]


def guarded(name: str, target: Callable[[], None], health: Health) -> Callable[[], None]:
    """``target`` as a thread body that reports its own death (with the exception) instead of vanishing."""

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            health.failed(name, f"{type(exc).__name__}: {exc}"[:500])
            log.critical("%s stopped by an unexpected error:\n%s", name, traceback.format_exc())

    return run
