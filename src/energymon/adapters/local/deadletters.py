"""The local dead-letter store: everything rejected or given up on, with its reason — bounded.

Rejections are trimmed oldest first beyond ``max_bytes`` of payload or ``max_age_s``, and what was trimmed is
counted; records the poller gave up on are accepted data and are never trimmed, only marked once
``energymon dead-letters reprocess`` has put them through the handler again.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson

from energymon.adapters.local.sqlite import Database
from energymon.ports import GIVEN_UP, DeadLetter, DeadLetters, StoredLetter

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
CREATE TABLE IF NOT EXISTS dead_letter_counts (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_TRIM_EVERY = 100  # puts between two checks of the bounds


class SqliteDeadLetters(DeadLetters):
    def __init__(self, path: Path, *, max_bytes: int = 64 * 1024 * 1024, max_age_s: float = 30 * 86_400) -> None:
        self.db = Database(path, _SCHEMA)
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._puts = 0
        self._add_columns()

    def _add_columns(self) -> None:
        """Data directories from before reprocessing and bounds get the columns (and the index)."""
        con = self.db.connection()
        columns = {row[1] for row in con.execute("PRAGMA table_info(dead_letters)")}
        if "reprocessed_at" not in columns:
            con.execute("ALTER TABLE dead_letters ADD COLUMN reprocessed_at REAL")
        if "size" not in columns:
            con.execute("ALTER TABLE dead_letters ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
        if "stored_at" not in columns:  # when it was kept (``at`` is when it happened, which a caller may set)
            con.execute("ALTER TABLE dead_letters ADD COLUMN stored_at REAL")
        con.execute("CREATE INDEX IF NOT EXISTS dead_letters_given_up ON dead_letters (code, id) "
                    "WHERE reprocessed_at IS NULL")

    def _put(self, letters: Sequence[DeadLetter]) -> None:
        now = time.time()
        rows = [
            (dl.at_s or now, dl.stage, dl.code, dl.reason, dl.source, dl.payload, orjson.dumps(dl.detail),
             len(dl.payload), now)
            for dl in letters
        ]
        with self.db.transaction() as con:
            con.executemany(
                "INSERT INTO dead_letters (at, stage, code, reason, source, payload, detail, size, stored_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        self._puts += 1
        if self._puts % _TRIM_EVERY == 1:
            self.trim()

    def trim(self, now: float | None = None) -> int:
        """Drop rejections older than ``max_age_s``, then the oldest beyond ``max_bytes``; return how many."""
        cutoff = (now or time.time()) - self.max_age_s
        with self.db.transaction() as con:
            dropped = con.execute("DELETE FROM dead_letters WHERE code != ? AND COALESCE(stored_at, at) < ?",
                                  (GIVEN_UP, cutoff)).rowcount
            (total,) = con.execute("SELECT COALESCE(SUM(size), 0) FROM dead_letters WHERE code != ?",
                                   (GIVEN_UP,)).fetchone()
            if total > self.max_bytes:
                # The newest rejections whose sizes add up to the bound stay; everything older goes.
                row = con.execute(
                    "SELECT id FROM (SELECT id, SUM(size) OVER (ORDER BY id DESC) AS newer FROM dead_letters "
                    "WHERE code != ?) WHERE newer > ? ORDER BY id DESC LIMIT 1", (GIVEN_UP, self.max_bytes),
                ).fetchone()
                if row is not None:
                    dropped += con.execute("DELETE FROM dead_letters WHERE code != ? AND id <= ?",
                                           (GIVEN_UP, row[0])).rowcount
            if dropped:
                con.execute("INSERT INTO dead_letter_counts VALUES ('trimmed', ?) "
                            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value", (dropped,))
        return dropped

    def trimmed(self) -> int:
        row = self.db.connection().execute("SELECT value FROM dead_letter_counts WHERE name='trimmed'").fetchone()
        return int(row[0]) if row else 0

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

    def given_up(self, limit: int = 10_000) -> list[StoredLetter]:
        rows = self.db.connection().execute(
            "SELECT id, stage, code, reason, payload, source, detail, at FROM dead_letters "
            "WHERE code = ? AND reprocessed_at IS NULL ORDER BY id LIMIT ?", (GIVEN_UP, limit),
        )
        return [StoredLetter(str(id_), DeadLetter(stage, code, reason, bytes(payload), source, orjson.loads(detail),
                                                  at))
                for id_, stage, code, reason, payload, source, detail, at in rows]

    def mark_reprocessed(self, ids: Sequence[str]) -> None:
        now = time.time()
        with self.db.transaction() as con:
            con.executemany("UPDATE dead_letters SET reprocessed_at = ? WHERE id = ?", [(now, int(i)) for i in ids])
