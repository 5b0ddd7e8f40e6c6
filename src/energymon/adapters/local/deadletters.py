"""The local dead-letter store: everything rejected or given up on, with its reason."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson

from energymon.adapters.local.sqlite import Database
from energymon.ports import DeadLetter, DeadLetters

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["SqliteDeadLetters"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL, stage TEXT NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL,
    source TEXT NOT NULL, payload BLOB NOT NULL, detail TEXT NOT NULL
);
"""


class SqliteDeadLetters(DeadLetters):
    def __init__(self, path: Path) -> None:
        self.db = Database(path, _SCHEMA)

    def put(self, letters: Sequence[DeadLetter]) -> None:
        rows = [
            (dl.at_s or time.time(), dl.stage, dl.code, dl.reason, dl.source, dl.payload, orjson.dumps(dl.detail))
            for dl in letters
        ]
        with self.db.transaction() as con:
            con.executemany(
                "INSERT INTO dead_letters (at, stage, code, reason, source, payload, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def recent(self, limit: int = 50) -> list[DeadLetter]:
        rows = self.db.connection().execute(
            "SELECT stage, code, reason, payload, source, detail, at FROM dead_letters ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            DeadLetter(stage, code, reason, bytes(payload), source, orjson.loads(detail), at)
            for stage, code, reason, payload, source, detail, at in rows
        ]

    def count(self) -> int:
        (n,) = self.db.connection().execute("SELECT COUNT(*) FROM dead_letters").fetchone()
        return int(n)
