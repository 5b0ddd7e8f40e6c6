"""The state machine of one (rule, device) on pure minute data: pending, firing, hysteresis, flapping, staleness."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from energymon.domain.alerts.kinds import SETTLE_MS, evaluate_no_data, evaluate_power
from energymon.domain.alerts.notification import Notification
from energymon.domain.alerts.rules import parse_rule
from energymon.domain.alerts.state import IncidentState

UTC = ZoneInfo("UTC")
MIN = 60_000
T0 = 1_795_000_000_000 // MIN * MIN  # a whole minute


def rule(**change: object):  # noqa: ANN201
    return parse_rule({"name": "r", "kind": "power_above", "threshold_w": 100, "for_s": 60} | change)


def run(r, powers: list[float | None], evaluate_every: int = 1) -> tuple[IncidentState, list[Notification],
                                                                           list[str]]:
    """Minute i holds powers[i]; an evaluation after every ``evaluate_every`` minutes (settled 30 s later)."""
    minutes = {T0 + i * MIN: p for i, p in enumerate(powers) if p is not None}
    state = IncidentState(r.name, "apt-1", cursor_ms=T0)
    sent: list[Notification] = []
    statuses = []
    for i in range(evaluate_every, len(powers) + 1, evaluate_every):
        outcome = evaluate_power(r, state, minutes, T0 + i * MIN + SETTLE_MS, UTC)
        state = outcome.state
        sent += outcome.notifications
        statuses.append(state.status)
    return state, sent, statuses


def at(minute: int) -> int:
    return T0 + minute * MIN


def test_given_a_rule_of_three_minutes_when_power_stays_high_then_it_is_pending_then_firing() -> None:
    _, sent, statuses = run(rule(for_s=180), [50, 150, 150, 150, 150, 50, 50, 50, 50])
    # Breach from minute 1; 180 s held at the end of minute 3 → firing (evaluation 3); pending before.
    assert statuses[:5] == ["ok", "pending", "pending", "firing", "firing"]
    assert [(n.state, n.started_at_ms, n.ended_at_ms) for n in sent] == [
        ("firing", at(1), None), ("resolved", at(1), at(5))]


def test_given_a_short_breach_when_it_ends_before_for_s_then_nothing_is_sent() -> None:
    state, sent, statuses = run(rule(for_s=180), [150, 150, 50, 150, 150, 50])
    assert sent == [] and "pending" in statuses and state.status == "ok"


def test_given_hysteresis_when_power_hovers_between_clear_and_threshold_then_it_stays_firing() -> None:
    _, sent, _ = run(rule(clear_w=60), [150, 150, 80, 90, 80, 50, 50])
    # 80–90 W is below the threshold but not below clear_w (60 W): only minute 5 (50 W) starts the clearing.
    assert [(n.state, n.ended_at_ms) for n in sent] == [("firing", None), ("resolved", at(5))]


def test_given_a_fridge_flapping_around_its_threshold_then_one_flapping_notification_replaces_the_storm() -> None:
    # 2 minutes at 150 W, 2 at 50 W, for 20 minutes; then 50 W for 40 minutes.
    fridge = [150.0 if (i // 2) % 2 == 0 else 50.0 for i in range(20)] + [50.0] * 40
    state, sent, _ = run(rule(), fridge)
    # Changes at the end of minutes 0 (fire), 2 (resolve), 4 (fire), 6 (resolve = the 4th within 30 min →
    # "flapping" instead); quiet after; the last change is the resolve at the end of minute 18 (19:00); 30 minutes
    # later, at the end of minute 48, it is stable: the last incident's resolve is sent once.
    assert [(n.state, n.started_at_ms, n.ended_at_ms) for n in sent] == [
        ("firing", at(0), None), ("resolved", at(0), at(2)), ("firing", at(4), None), ("flapping", at(4), None),
        ("resolved", at(16), at(18))]
    assert state.status == "ok" and not state.flapping


def test_given_a_power_below_rule_when_the_freezer_stops_then_it_fires() -> None:
    _, sent, _ = run(parse_rule({"name": "freezer-off", "kind": "power_below", "threshold_w": 10, "clear_w": 30,
                                 "for_s": 120}), [80, 80, 2, 2, 2, 20, 90, 90, 90])
    assert [(n.state, n.started_at_ms, n.ended_at_ms) for n in sent] == [
        ("firing", at(2), None), ("resolved", at(2), at(6))]


def test_given_minutes_older_than_the_stale_limit_when_evaluated_late_then_they_never_fire() -> None:
    r = rule()
    minutes = {at(i): 2400.0 for i in range(0, 5)}
    state = IncidentState("r", "apt-1", cursor_ms=T0)
    # The first evaluation after an hour: minutes 0–4 are far older than 2 × for_s: skipped.
    outcome = evaluate_power(r, state, minutes, at(60) + SETTLE_MS, UTC)
    assert outcome.notifications == () and outcome.state.cursor_ms == at(60)


def test_given_a_silence_when_no_data_evaluated_then_it_fires_without_any_reading() -> None:
    r = parse_rule({"name": "off", "kind": "no_data", "for_s": 300})
    state = IncidentState("off", "apt-1")
    quiet = evaluate_no_data(r, state, at(0), at(4), [], UTC)
    assert not quiet.changed
    fired = evaluate_no_data(r, state, at(0), at(5), [], UTC)
    [n] = fired.notifications
    assert (n.state, n.started_at_ms, n.value, n.threshold, n.unit) == ("firing", at(0), 300.0, 300.0, "s")
    again = evaluate_no_data(r, fired.state, at(0), at(9), [], UTC)
    assert again.notifications == ()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([None, 20.0, 90.0, 110.0, 150.0, 2400.0]), min_size=1, max_size=45),
       st.integers(1, 2), st.sampled_from([60, 120]))
def test_property_given_any_minutes_when_evaluated_at_any_cadence_within_the_stale_limit_then_same_notifications(
        powers: list[float | None], every: int, for_s: int) -> None:
    r = rule(for_s=for_s, clear_w=80)
    padded = powers + [None] * (len(powers) % every)
    _, each_minute, _ = run(r, padded, 1)
    _, batched, _ = run(r, padded, every)
    # Evaluating after every minute or after every second minute: the same keys, the same bodies.
    assert [n.body() for n in batched] == [n.body() for n in each_minute]
    assert len({n.key for n in each_minute}) == len(each_minute)
