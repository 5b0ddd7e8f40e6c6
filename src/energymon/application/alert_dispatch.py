"""Send what the alert outbox holds: every due row once, retried with backoff, deferred through quiet hours.

The evaluator writes a state change and its outbox rows together; this is the other half. One pass
(:meth:`OutboxDispatcher.run_once`) never raises because of one row: a failure is recorded on the row with the
time of its next attempt, and a channel that fails is not tried again in the same pass, so a channel that is down
(or slow to time out) costs one attempt per pass and holds up no other.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from energymon.errors import DeliveryError

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Mapping

    from energymon.ports import AlertOutbox, Metrics, OutboxItem

__all__ = ["Backoff", "DispatchReport", "OutboxDispatcher", "QuietWindow", "Sender"]

log = logging.getLogger("energymon.alerts")


class QuietWindow(Protocol):
    def ends_after(self, now_s: float) -> float | None:
        """The instant (s) the window ends if ``now_s`` is inside it, else None."""


class Sender(Protocol):
    """A channel as the dispatcher sees it (``energymon.adapters.notify.Channel`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def quiet_hours(self) -> QuietWindow | None: ...

    def send(self, body: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class Backoff:
    """30 s after the first failure, doubling up to an hour; each delay shortened by up to ``jitter`` at random
    so rows that failed together do not all retry in the same second."""

    first_s: float = 30.0
    cap_s: float = 3600.0
    jitter: float = 0.2

    def delay_s(self, failures: int, rng: random.Random) -> float:
        base = min(self.cap_s, self.first_s * 2.0 ** min(max(failures - 1, 0), 32))
        return float(base * (1 - self.jitter * rng.random()))


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # channel -> the last error of this pass


class OutboxDispatcher:
    def __init__(
        self,
        outbox: AlertOutbox,
        channels: Mapping[str, Sender],
        metrics: Metrics | None = None,
        *,
        clock: Callable[[], float] = time.time,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        batch: int = 100,
    ) -> None:
        self.outbox = outbox
        self.channels = dict(channels)
        self.metrics = metrics
        self.clock = clock
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.batch = batch

    def run_once(self, now_s: float | None = None) -> DispatchReport:
        """Send every row due at ``now_s`` (default: the clock); returns what happened."""
        now = self.clock() if now_s is None else now_s
        report = DispatchReport()
        try:
            rows = self.outbox.due(now, self.batch)
        except Exception as exc:  # the outbox itself is unavailable: try again next pass
            log.error("alert outbox unavailable: %s", exc)
            report.errors["(outbox)"] = str(exc)
            return report
        try:
            rows = self._in_order(rows)
        except Exception as exc:  # without the pending rows, order within the due ones is the best we have
            log.error("alert outbox pending rows unavailable: %s", exc)
        down: dict[str, str] = {}  # channels that failed in this pass -> their error
        for row in rows:
            try:
                self._one(row, now, down, report)
            except Exception as exc:  # recording the outcome failed; the row stays due and is tried again
                log.error("alert outbox row %s for %s could not be updated: %s", row.key, row.channel, exc)
                report.errors[row.channel] = str(exc)
        return report

    def _in_order(self, due: list[OutboxItem]) -> list[OutboxItem]:
        """The due rows plus any older unsent row of the same (channel, rule, device), oldest change first.

        Rows retry on their own jittered schedules, so a "resolved" can fall due before the "firing" it ends;
        sent in that order, a receiver (and the retained MQTT state) would be left showing "firing". Pulling the
        older row forward keeps each incident's changes in order on every channel.
        """
        if not due:
            return due
        newest: dict[tuple[str, str, str], tuple[int, int]] = {}  # (channel, rule, device) -> newest due change
        for row in due:
            newest[_stream(row)] = max(newest.get(_stream(row), _when(row)), _when(row))
        chosen = {(r.key, r.channel): r for r in due}
        for row in self.outbox.pending():
            stream = _stream(row)
            if stream in newest and _when(row) <= newest[stream]:
                chosen.setdefault((row.key, row.channel), row)
        return sorted(chosen.values(), key=lambda r: (_when(r), r.channel))

    def _one(self, row: OutboxItem, now: float, down: dict[str, str], report: DispatchReport) -> None:
        channel = self.channels.get(row.channel)
        if channel is None:
            self._failed(row, now, f"no channel named {row.channel!r} is configured", report)
            return
        if row.channel in down:
            self._failed(row, now, f"not tried: {down[row.channel]}", report, tried=False)
            return
        if not row.body.get("critical") and channel.quiet_hours is not None:
            until = channel.quiet_hours.ends_after(now)
            if until is not None:
                when = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                self.outbox.defer(row.key, row.channel, until, f"quiet hours until {when}")
                report.deferred += 1
                self._count("alert_notifications_deferred", row.channel)
                return
        try:
            channel.send(row.body)
        except Exception as exc:  # DeliveryError says why in one line; anything else is a channel's bug
            error = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
            down[row.channel] = error
            self._failed(row, now, error, report)
            return
        self.outbox.sent(row.key, row.channel, self.clock())
        report.sent += 1
        self._count("alert_notifications_sent", row.channel)

    def _failed(self, row: OutboxItem, now: float, error: str, report: DispatchReport, *, tried: bool = True
                ) -> None:
        retry_at = now + self.backoff.delay_s(row.attempts + 1, self.rng)
        self.outbox.failed(row.key, row.channel, error, retry_at)
        # One warning per failing channel and pass: the rows not tried behind it would be a storm in the log.
        log.log(logging.WARNING if tried else logging.DEBUG, "alert %s via %s failed (attempt %d, next in %.0f s): %s",
                row.key, row.channel, row.attempts + 1, retry_at - now, error)
        report.failed += 1
        report.errors[row.channel] = error
        self._count("alert_notifications_failed", row.channel)

    def _count(self, name: str, channel: str) -> None:
        if self.metrics is not None:
            try:
                self.metrics.count(name, channel=channel)
            except Exception as exc:  # metrics are never a reason to lose track of a send
                log.warning("metric %s not counted: %s", name, exc)

    def run(self, stop: threading.Event, interval_s: float = 5.0) -> None:
        """Pass after pass until ``stop`` is set (the local runtime's dispatch thread)."""
        while not stop.is_set():
            self.run_once()
            stop.wait(interval_s)


_STATE_ORDER = {"firing": 0, "flapping": 1, "resolved": 2}


def _stream(row: OutboxItem) -> tuple[str, str, str]:
    return row.channel, str(row.body.get("rule", "")), str(row.body.get("device_id", ""))


def _when(row: OutboxItem) -> tuple[int, int]:
    """When the change happened: a resolve at its end, anything else at its start (a firing first on ties)."""
    at = row.body.get("ended_at_ms") or row.body.get("started_at_ms") or 0
    return int(at), _STATE_ORDER.get(str(row.body.get("state")), 3)
