"""AlertState + AlertOutbox port contract (SqliteAlerts; the DynamoDB adapter runs the same suite).

Provide an ``alerts_factory`` fixture returning an object that is both ports, and
``from functional.contracts.alert_state_contract import *``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from energymon.domain.alerts.notification import Notification
from energymon.domain.alerts.state import IncidentState
from energymon.ports import OutboxItem

AlertsFactory = Callable[[], Any]


def _firing(started: int = 1_000) -> tuple[IncidentState, Notification]:
    n = Notification("kettle", "power_above", "apt-1", "firing", started, 2400.0, 2000.0, "W")
    return IncidentState("kettle", "apt-1", "firing", started_at_ms=started, value=2400.0, changes=(started,),
                         updated_at_ms=started + 60_000), n


def test_contract_given_nothing_stored_when_read_then_none_and_empty(alerts_factory: AlertsFactory) -> None:
    alerts = alerts_factory()
    assert alerts.get("kettle", "apt-1") is None
    assert alerts.states() == [] and alerts.history() == [] and alerts.pending() == []


def test_contract_given_a_state_change_when_put_then_state_history_and_outbox_come_back(
        alerts_factory: AlertsFactory) -> None:
    alerts = alerts_factory()
    state, n = _firing()
    items = [OutboxItem(n.key, "hook", n.body()), OutboxItem(n.key, "phone", n.body())]
    assert alerts.put(state, 0, [n], items)
    stored = alerts.get("kettle", "apt-1")
    assert stored == IncidentState(**{**state.to_dict(), "changes": state.changes, "version": 1})
    [event] = alerts.history()
    assert event.notification == n and event.at_ms == state.updated_at_ms
    assert alerts.history(device_id="apt-2") == []
    assert sorted((i.key, i.channel, i.body["state"]) for i in alerts.pending()) == [
        (n.key, "hook", "firing"), (n.key, "phone", "firing")]


def test_contract_given_a_stale_version_when_put_then_nothing_is_written(alerts_factory: AlertsFactory) -> None:
    alerts = alerts_factory()
    state, n = _firing()
    assert alerts.put(state, 0, [n], [OutboxItem(n.key, "hook", n.body())])
    assert not alerts.put(state, 0)  # a second first write: someone else was first
    later = IncidentState("kettle", "apt-1", "resolved", started_at_ms=1_000, ended_at_ms=5_000)
    resolved = Notification("kettle", "power_above", "apt-1", "resolved", 1_000, ended_at_ms=5_000)
    assert not alerts.put(later, 7, [resolved], [OutboxItem(resolved.key, "hook", resolved.body())])
    assert alerts.get("kettle", "apt-1").status == "firing" and len(alerts.history()) == 1
    assert len(alerts.pending()) == 1
    assert alerts.put(later, 1, [resolved], [OutboxItem(resolved.key, "hook", resolved.body())])
    assert alerts.get("kettle", "apt-1").version == 2 and len(alerts.pending()) == 2


def test_contract_given_the_same_key_again_when_added_then_one_row_and_one_history_entry(
        alerts_factory: AlertsFactory) -> None:
    alerts = alerts_factory()
    state, n = _firing()
    item = OutboxItem(n.key, "hook", n.body())
    assert alerts.put(state, 0, [n], [item])
    assert alerts.add([item]) == 0
    again = IncidentState(**{**state.to_dict(), "changes": state.changes, "value": 2500.0})
    assert alerts.put(again, 1, [n], [item])
    assert len(alerts.pending()) == 1 and len(alerts.history()) == 1


def test_contract_given_rows_when_sent_or_failed_then_due_follows_the_next_attempt(
        alerts_factory: AlertsFactory) -> None:
    alerts = alerts_factory()
    body = {"state": "firing"}
    assert alerts.add([OutboxItem("k1", "hook", body), OutboxItem("k1", "mail", body)]) == 2
    assert {(i.key, i.channel) for i in alerts.due(100.0)} == {("k1", "hook"), ("k1", "mail")}
    alerts.failed("k1", "mail", "SMTP 554 refused", next_attempt_s=160.0)
    alerts.sent("k1", "hook", 101.0)
    assert alerts.due(150.0) == []
    [retry] = alerts.due(160.0)
    assert (retry.channel, retry.attempts, retry.last_error, retry.next_attempt_s) == (
        "mail", 1, "SMTP 554 refused", 160.0)
    assert [(i.key, i.channel) for i in alerts.pending()] == [("k1", "mail")]
    alerts.sent("k1", "mail", 161.0)
    assert alerts.pending() == [] and alerts.due(10_000.0) == []


def test_contract_given_several_devices_when_listed_then_by_rule_then_device(alerts_factory: AlertsFactory) -> None:
    alerts = alerts_factory()
    for rule, device in [("b", "apt-2"), ("a", "apt-9"), ("b", "apt-1")]:
        assert alerts.put(IncidentState(rule, device, cursor_ms=60_000), 0)
    assert [(s.rule, s.device_id, s.cursor_ms) for s in alerts.states()] == [
        ("a", "apt-9", 60_000), ("b", "apt-1", 60_000), ("b", "apt-2", 60_000)]
