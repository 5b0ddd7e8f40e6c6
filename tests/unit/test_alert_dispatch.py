"""The outbox dispatcher: every due row sent once, failures retried with backoff, quiet hours respected,
a failing channel holds up no other, and one bad row never stops a pass."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.notify.config import QuietHours
from energymon.application.alert_dispatch import Backoff, OutboxDispatcher
from energymon.domain.alerts.notification import Notification
from energymon.errors import DeliveryError
from energymon.ports import OutboxItem
from outbox_fake import MemoryOutbox

T0 = datetime(2026, 6, 10, 12, 0, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()


class Recorder:
    """A channel that records what it was given and fails while ``down`` is set."""

    def __init__(self, name: str, quiet_hours: QuietHours | None = None) -> None:
        self.name = name
        self.quiet_hours = quiet_hours
        self.bodies: list[dict[str, Any]] = []
        self.down: Exception | None = None
        self.calls = 0

    def send(self, body: dict[str, Any]) -> None:
        self.calls += 1
        if self.down is not None:
            raise self.down
        self.bodies.append(body)


def item(channel: str, rule: str = "kettle", critical: bool = False, started: int = 0) -> OutboxItem:
    n = Notification(rule, "power_above", "apt-1", "firing", int(T0 * 1000) + started, 2400, 2000, "W",
                     critical=critical)
    return OutboxItem(n.key, channel, n.body())


def dispatcher(outbox: MemoryOutbox, *channels: Recorder, metrics: PrometheusMetrics | None = None
               ) -> OutboxDispatcher:
    return OutboxDispatcher(outbox, {c.name: c for c in channels}, metrics, clock=lambda: T0,
                            rng=random.Random(7))


def test_each_due_row_is_sent_once_and_counted() -> None:
    outbox, hook, metrics = MemoryOutbox(), Recorder("hook"), PrometheusMetrics()
    outbox.add([item("hook"), item("hook", started=1000)])
    d = dispatcher(outbox, hook, metrics=metrics)
    assert d.run_once(T0).sent == 2
    assert d.run_once(T0 + 3600).sent == 0  # nothing sent twice
    assert [b["started_at_ms"] for b in hook.bodies] == [int(T0 * 1000), int(T0 * 1000) + 1000]
    assert outbox.pending() == []
    assert metrics.registry.get_sample_value("energymon_alert_notifications_sent_total", {"channel": "hook"}) == 2


def test_a_failure_is_retried_with_doubling_jittered_backoff_until_it_succeeds() -> None:
    outbox, hook, metrics = MemoryOutbox(), Recorder("hook"), PrometheusMetrics()
    outbox.add([item("hook")])
    hook.down = DeliveryError("http://h answered HTTP 500 Internal Server Error")
    d = dispatcher(outbox, hook, metrics=metrics)
    now, delays = T0, []
    for _ in range(9):
        assert d.run_once(now).failed == 1
        (row,) = outbox.pending()
        delays.append(row.next_attempt_s - now)
        assert d.run_once(row.next_attempt_s - 0.001).failed == 0  # not tried before its time
        now = row.next_attempt_s
    nominal = [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]  # doubling, capped at an hour
    assert all(0.8 * n <= got <= n for got, n in zip(delays, nominal, strict=True)), delays
    assert len({round(d / n, 6) for d, n in zip(delays, nominal, strict=True)}) > 1  # jittered, not fixed
    assert row.last_error == "http://h answered HTTP 500 Internal Server Error" and row.attempts == 9
    hook.down = None
    assert d.run_once(now).sent == 1 and len(hook.bodies) == 1
    assert metrics.registry.get_sample_value("energymon_alert_notifications_failed_total", {"channel": "hook"}) == 9


def test_a_failing_channel_is_tried_once_per_pass_and_holds_up_no_other() -> None:
    outbox, down, mail = MemoryOutbox(), Recorder("down"), Recorder("mail")
    down.down = DeliveryError("could not reach http://h: timed out")
    outbox.add([item("down", started=i) for i in range(5)] + [item("mail", started=i) for i in range(5)])
    report = dispatcher(outbox, down, mail).run_once(T0)
    assert (report.sent, report.failed) == (5, 5)
    assert down.calls == 1  # one timeout per pass, not five
    assert len(mail.bodies) == 5
    assert {r.last_error for r in outbox.pending()} == {"not tried: could not reach http://h: timed out",
                                                        "could not reach http://h: timed out"}
    assert report.errors == {"down": "not tried: could not reach http://h: timed out"}


def test_a_crashing_channel_a_missing_channel_and_a_broken_outbox_row_never_stop_the_pass() -> None:
    outbox, buggy, good = MemoryOutbox(), Recorder("buggy"), Recorder("good")
    buggy.down = KeyError("rule")
    outbox.add([item("buggy"), item("gone"), item("good")])
    report = dispatcher(outbox, buggy, good).run_once(T0)
    assert report.sent == 1 and report.failed == 2
    errors = {r.channel: r.last_error for r in outbox.pending()}
    assert errors == {"buggy": "KeyError: 'rule'", "gone": "no channel named 'gone' is configured"}

    class Flaky(MemoryOutbox):
        def sent(self, key: str, channel: str, at_s: float) -> None:
            raise OSError("disk I/O error")

    flaky = Flaky()
    flaky.add([item("good", started=1), item("good", started=2)])
    report = dispatcher(flaky, good).run_once(T0)
    assert report.errors == {"good": "disk I/O error"}
    assert len(flaky.pending()) == 2  # not marked: sent again next pass (at most once more), never lost


def test_quiet_hours_defer_to_the_end_of_the_window_and_critical_bypasses_them() -> None:
    night = QuietHours(start="22:00", end="07:00", timezone="Europe/Berlin")
    outbox, phone = MemoryOutbox(), Recorder("phone", night)
    late = datetime(2026, 6, 10, 23, 15, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    morning = datetime(2026, 6, 11, 7, 0, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()
    outbox.add([item("phone", rule="kettle"), item("phone", rule="fire", critical=True)])
    report = dispatcher(outbox, phone).run_once(late)
    assert (report.sent, report.deferred) == (1, 1)
    assert [b["rule"] for b in phone.bodies] == ["fire"]
    (held,) = outbox.pending()
    assert held.next_attempt_s == morning and held.attempts == 0
    assert held.last_error == "quiet hours until 2026-06-11T05:00:00Z"
    assert dispatcher(outbox, phone).run_once(morning - 1).sent == 0
    assert dispatcher(outbox, phone).run_once(morning).sent == 1
    assert [b["rule"] for b in phone.bodies] == ["fire", "kettle"]


@pytest.mark.parametrize(("failures", "nominal"), [(1, 30), (2, 60), (7, 1920), (8, 3600), (500, 3600)])
def test_backoff_bounds(failures: int, nominal: float) -> None:
    rng = random.Random(1)
    delays = [Backoff().delay_s(failures, rng) for _ in range(200)]
    assert 0.8 * nominal <= min(delays) and max(delays) <= nominal


def test_a_resolve_due_before_its_firing_is_sent_after_it() -> None:
    # GIVEN a channel that was down, with the firing row retrying later than the resolved row (jitter, or a longer
    # backoff) WHEN the resolved row falls due THEN the firing goes first, so the receiver ends on "resolved"
    outbox, ha = MemoryOutbox(), Recorder("ha")
    start = int(T0 * 1000)
    firing = Notification("kettle", "power_above", "apt-1", "firing", start, 2400, 2000, "W")
    resolved = Notification("kettle", "power_above", "apt-1", "resolved", start, 1600, 2000, "W",
                            ended_at_ms=start + 180_000)
    other = Notification("fridge", "power_below", "apt-1", "firing", start + 1, 3, 10, "W")
    outbox.add([OutboxItem(firing.key, "ha", firing.body(), attempts=5, next_attempt_s=T0 + 900),
                OutboxItem(resolved.key, "ha", resolved.body(), next_attempt_s=T0),
                OutboxItem(other.key, "ha", other.body(), next_attempt_s=T0 + 900)])
    assert dispatcher(outbox, ha).run_once(T0).sent == 2
    assert [(b["rule"], b["state"]) for b in ha.bodies] == [("kettle", "firing"), ("kettle", "resolved")]
    assert [r.key for r in outbox.pending()] == [other.key]  # another incident keeps its own schedule
