"""An in-memory AlertOutbox for tests of the dispatcher and the channels (D1's SQLite adapter passes the same
port contract). Tests import it as ``outbox_fake`` (pytest puts ``tests/`` on sys.path for the root conftest)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from energymon.ports import AlertOutbox, OutboxItem


class MemoryOutbox(AlertOutbox):
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], OutboxItem] = {}
        self.sent_at: dict[tuple[str, str], float] = {}

    def add(self, items: Sequence[OutboxItem]) -> int:
        new = 0
        for item in items:
            if (item.key, item.channel) not in self.rows:
                self.rows[item.key, item.channel] = item
                new += 1
        return new

    def due(self, now_s: float, limit: int = 100) -> list[OutboxItem]:
        waiting = [r for k, r in self.rows.items() if k not in self.sent_at and r.next_attempt_s <= now_s]
        return sorted(waiting, key=lambda r: r.next_attempt_s)[:limit]

    def sent(self, key: str, channel: str, at_s: float) -> None:
        self.sent_at[key, channel] = at_s

    def failed(self, key: str, channel: str, error: str, next_attempt_s: float) -> None:
        row = self.rows[key, channel]
        self.rows[key, channel] = replace(row, attempts=row.attempts + 1, next_attempt_s=next_attempt_s,
                                          last_error=error)

    def defer(self, key: str, channel: str, until_s: float, reason: str) -> None:
        row = self.rows[key, channel]
        self.rows[key, channel] = replace(row, next_attempt_s=until_s, last_error=reason)

    def pending(self) -> list[OutboxItem]:
        return [r for k, r in self.rows.items() if k not in self.sent_at]
