"""Alert state, history and outbox in one SQLite file (``alerts.db``): a state change and its rows, one transaction."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson

from energymon.adapters.local.sqlite import Database
from energymon.domain.alerts.notification import Notification
from energymon.domain.alerts.state import IncidentState
from energymon.ports import AlertEvent, AlertOutbox, AlertState, OutboxItem

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["SqliteAlerts"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alert_state (
    rule TEXT NOT NULL, device TEXT NOT NULL, version INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (rule, device)
);
CREATE TABLE IF NOT EXISTS alert_history (
    key TEXT PRIMARY KEY, rule TEXT NOT NULL, device TEXT NOT NULL, state TEXT NOT NULL,
    at_ms INTEGER NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_history_device ON alert_history (device, at_ms);
CREATE TABLE IF NOT EXISTS alert_outbox (
    key TEXT NOT NULL, channel TEXT NOT NULL, body TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_s REAL NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '',
    created_s REAL NOT NULL, sent_s REAL,
    PRIMARY KEY (key, channel)
);
CREATE INDEX IF NOT EXISTS alert_outbox_due ON alert_outbox (next_attempt_s) WHERE sent_s IS NULL;
"""

_OUTBOX_COLUMNS = "key, channel, body, attempts, next_attempt_s, last_error"


class SqliteAlerts(AlertState, AlertOutbox):
    def __init__(self, path: Path) -> None:
        # FULL: a state change that claims to be stored must survive a power cut with its outbox rows.
        self.db = Database(path, _SCHEMA, synchronous="FULL")

    # ------------------------------------------------------------------------------------------ state
    def get(self, rule: str, device_id: str) -> IncidentState | None:
        row = self.db.connection().execute(
            "SELECT version, data FROM alert_state WHERE rule=? AND device=?", (rule, device_id)).fetchone()
        return None if row is None else _state(row[0], row[1])

    def states(self) -> list[IncidentState]:
        rows = self.db.connection().execute("SELECT version, data FROM alert_state ORDER BY rule, device")
        return [_state(v, d) for v, d in rows]

    def put(self, state: IncidentState, expected_version: int, notifications: Sequence[Notification] = (),
            outbox: Sequence[OutboxItem] = ()) -> bool:
        data = orjson.dumps(state.to_dict()).decode()
        now = time.time()
        with self.db.transaction() as con:
            if expected_version == 0:
                written = con.execute(
                    "INSERT OR IGNORE INTO alert_state (rule, device, version, data) VALUES (?, ?, 1, ?)",
                    (state.rule, state.device_id, data)).rowcount
            else:
                written = con.execute(
                    "UPDATE alert_state SET version=version+1, data=? WHERE rule=? AND device=? AND version=?",
                    (data, state.rule, state.device_id, expected_version)).rowcount
            if not written:
                return False
            con.executemany(
                "INSERT OR IGNORE INTO alert_history (key, rule, device, state, at_ms, body) VALUES (?, ?, ?, ?, ?, ?)",
                [(n.key, n.rule, n.device_id, n.state, state.updated_at_ms, orjson.dumps(_fields(n)).decode())
                 for n in notifications])
            _add(con, outbox, now)
        return True

    def history(self, device_id: str | None = None, limit: int = 50) -> list[AlertEvent]:
        sql = "SELECT body, at_ms FROM alert_history"
        args: tuple[object, ...] = ()
        if device_id is not None:
            sql += " WHERE device=?"
            args = (device_id,)
        rows = self.db.connection().execute(sql + " ORDER BY at_ms DESC, key DESC LIMIT ?", (*args, limit))
        return [AlertEvent(Notification(**orjson.loads(body)), at_ms) for body, at_ms in rows]

    # ----------------------------------------------------------------------------------------- outbox
    def add(self, items: Sequence[OutboxItem]) -> int:
        with self.db.transaction() as con:
            return _add(con, items, time.time())

    def due(self, now_s: float, limit: int = 100) -> list[OutboxItem]:
        rows = self.db.connection().execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM alert_outbox WHERE sent_s IS NULL AND next_attempt_s <= ? "
            "ORDER BY created_s, key, channel LIMIT ?", (now_s, limit))
        return [_item(row) for row in rows]

    def sent(self, key: str, channel: str, at_s: float) -> None:
        with self.db.transaction() as con:
            con.execute("UPDATE alert_outbox SET sent_s=?, attempts=attempts+1 WHERE key=? AND channel=?",
                        (at_s, key, channel))

    def failed(self, key: str, channel: str, error: str, next_attempt_s: float) -> None:
        with self.db.transaction() as con:
            con.execute("UPDATE alert_outbox SET attempts=attempts+1, last_error=?, next_attempt_s=? "
                        "WHERE key=? AND channel=? AND sent_s IS NULL", (error[:1000], next_attempt_s, key, channel))

    def defer(self, key: str, channel: str, until_s: float, reason: str) -> None:
        """Quiet hours: the row waits until ``until_s`` without counting as an attempt."""
        with self.db.transaction() as con:
            con.execute("UPDATE alert_outbox SET last_error=?, next_attempt_s=? WHERE key=? AND channel=? "
                        "AND sent_s IS NULL", (reason[:1000], until_s, key, channel))

    def pending(self) -> list[OutboxItem]:
        rows = self.db.connection().execute(
            f"SELECT {_OUTBOX_COLUMNS} FROM alert_outbox WHERE sent_s IS NULL ORDER BY created_s, key, channel")
        return [_item(row) for row in rows]

    def close(self) -> None:
        self.db.close()


def _add(con: sqlite3.Connection, items: Sequence[OutboxItem], now: float) -> int:
    added = 0
    for item in items:
        added += con.execute(
            "INSERT OR IGNORE INTO alert_outbox (key, channel, body, attempts, next_attempt_s, last_error, created_s) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (item.key, item.channel, orjson.dumps(item.body).decode(), item.attempts, item.next_attempt_s,
             item.last_error, now)).rowcount
    return added


def _fields(n: Notification) -> dict[str, object]:
    return {name: getattr(n, name) for name in Notification.__dataclass_fields__}


def _state(version: int, data: str) -> IncidentState:
    values = orjson.loads(data)
    values["version"] = version
    return IncidentState.from_dict(values)


def _item(row: tuple[str, str, str, int, float, str]) -> OutboxItem:
    key, channel, body, attempts, next_attempt_s, last_error = row
    return OutboxItem(key, channel, orjson.loads(body), attempts, next_attempt_s, last_error)
