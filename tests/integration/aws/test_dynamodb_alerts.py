"""DynamoDBAlerts beyond the shared contract: its item layout in the readings table, and the races and retries
only a DynamoDB transaction has (moto server)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from energymon.adapters.aws.dynamodb_alerts import DynamoDBAlerts
from energymon.adapters.aws.dynamodb_store import DynamoDBStore
from energymon.domain.alerts.notification import Notification
from energymon.domain.alerts.state import IncidentState
from energymon.domain.reading import Reading
from energymon.ports import OutboxItem

pytestmark = pytest.mark.integration


def firing() -> tuple[IncidentState, Notification, OutboxItem]:
    n = Notification("kettle", "power_above", "apt-1", "firing", 1_000, 2400.0, 2000.0, "W")
    return (IncidentState("kettle", "apt-1", "firing", started_at_ms=1_000, updated_at_ms=61_000), n,
            OutboxItem(n.key, "phone", n.body()))


def keys(ddb: Any, table: str) -> list[tuple[str, str]]:
    return sorted((i["pk"]["S"], i["sk"]["S"]) for i in ddb.scan(TableName=table)["Items"])


def test_given_readings_and_alerts_in_one_table_then_alert_items_stay_under_alert_keys(
        client: Any, new_table: Any) -> None:
    ddb, table = client("dynamodb"), new_table()
    store = DynamoDBStore(table, client=ddb)
    t0 = int(time.time() * 1000) // 60_000 * 60_000 - 3_600_000
    # a device even named like the prefix
    assert store.add_readings("ALERT", [Reading("ALERT", t0 + m * 60_000, 100.0, float(m)) for m in range(3)]) == 3
    readings = keys(ddb, table)
    alerts = DynamoDBAlerts(table, client=ddb)
    state, n, item = firing()
    assert alerts.put(state, 0, [n], [item])
    added = sorted(set(keys(ddb, table)) - set(readings))
    assert added == [("ALERT#DUE", f"{n.key}#phone"), ("ALERT#HISTORY", n.key), ("ALERT#OUTBOX", f"{n.key}#phone"),
                     ("ALERT#STATE", "kettle#apt-1")]
    assert all(not pk.startswith("ALERT#") for pk, _ in readings)
    assert [d.device_id for d in store.devices()] == ["ALERT"] and alerts.states()[0].device_id == "apt-1"


def test_given_a_row_when_deferred_then_attempts_stay_and_when_sent_twice_then_nothing_breaks(
        client: Any, new_table: Any) -> None:
    alerts = DynamoDBAlerts(new_table(), client=client("dynamodb"))
    _, n, item = firing()
    assert alerts.add([item]) == 1
    alerts.failed(n.key, "phone", "SNS Throttling", 100.0)
    alerts.defer(n.key, "phone", 5_000.0, "quiet hours until 07:00")
    [row] = alerts.pending()
    assert (row.attempts, row.next_attempt_s, row.last_error) == (1, 5_000.0, "quiet hours until 07:00")
    alerts.sent(n.key, "phone", 5_001.0)
    alerts.sent(n.key, "phone", 5_002.0)  # a second dispatcher marking the same row
    alerts.failed(n.key, "phone", "late failure report", 9_000.0)  # a sent row stays sent
    assert alerts.pending() == [] and alerts.due(10_000.0) == []
    assert alerts.add([item]) == 0  # and a replay after sending adds nothing


def test_given_an_outbox_row_added_between_read_and_write_when_put_then_it_retries_and_writes_once(
        client: Any, new_table: Any) -> None:
    ddb, table = client("dynamodb"), new_table()
    alerts = DynamoDBAlerts(table, client=ddb)
    state, n, item = firing()
    racer = DynamoDBAlerts(table, client=ddb)
    real_missing = alerts._missing  # noqa: SLF001
    raced: list[bool] = []

    def missing_then_race(pk: str, sks: list[str]) -> list[str]:
        out = real_missing(pk, sks)
        if pk == "ALERT#OUTBOX" and not raced:  # another writer adds the row right after our read
            raced.append(racer.add([item]) == 1)
        return out

    alerts._missing = missing_then_race  # type: ignore[method-assign]  # noqa: SLF001
    assert alerts.put(state, 0, [n], [item])
    assert raced == [True]
    assert [(r.key, r.channel) for r in alerts.pending()] == [(n.key, "phone")]
    assert alerts.get("kettle", "apt-1").version == 1 and len(alerts.history()) == 1
