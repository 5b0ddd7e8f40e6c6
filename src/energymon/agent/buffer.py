"""The store-and-forward buffer: every reading is in SQLite before it is sent, and leaves only after its PUBACK.

One row per sample, in arrival order (``id``); the sample is kept already encoded (the canonical JSON object
without ``device_id``), so a message is a join of bytes and its size is known before it is built.

Bounded by count and by age. When a bound is hit the *oldest* readings go (the newest are the ones a
person looks at), the loss is logged with the time range that went, and a persistent counter keeps the
total (``dropped``) so the status line shows it across restarts.

Durability: WAL journal; ``synchronous=FULL`` (default) makes each append survive a power cut, ``NORMAL``
survives a killed process. Not thread-safe: one owner thread (the agent loop).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from energymon.adapters.local.sqlite import path_problem
from energymon.domain.reading import format_ts
from energymon.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from energymon.domain.reading import Reading

__all__ = ["Buffer", "Row", "encode_sample"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms INTEGER NOT NULL, sample BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS refused (
    id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, sample BLOB NOT NULL, reason TEXT NOT NULL, at_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
"""


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    ts_ms: int
    sample: bytes


def encode_sample(reading: Reading) -> bytes:
    sample = reading.to_dict()
    del sample["device_id"]
    return orjson.dumps(sample)


class Buffer:
    def __init__(
        self,
        path: Path | str,
        *,
        max_readings: int = 2_000_000,
        max_age_s: float = 30 * 86_400,
        synchronous: str = "full",
    ) -> None:
        self.path = path
        self.max_readings = max_readings
        self.max_age_ms = int(max_age_s * 1000)
        self.db = self._open(path, synchronous)
        self._count = int(self.db.execute("SELECT count(*) FROM pending").fetchone()[0])
        dropped = self.meta("dropped", 0)
        self.dropped = int(dropped) if isinstance(dropped, int | float) else 0
        self._next_age_check = 0.0

    # --- the public face -------------------------------------------------------------------------------

    def append(self, readings: Iterable[Reading], meta: dict[str, object] | None = None) -> int:
        """Store readings (and optional source state, atomically with them); enforce the bounds."""
        rows = [(r.ts_ms, encode_sample(r)) for r in readings]
        if not rows and not meta:
            return 0
        with self._tx():
            self.db.executemany("INSERT INTO pending (ts_ms, sample) VALUES (?, ?)", rows)
            for key, value in (meta or {}).items():
                self._set_meta(key, value)
            self._count += len(rows)
            if self._count > self.max_readings:
                self._drop_oldest(self._count - self.max_readings, f"buffer is full ({self.max_readings} readings)")
        return len(rows)

    def enforce_age(self, now_ms: int) -> None:
        """Drop readings older than the age bound (checked at most once a minute)."""
        if time.monotonic() < self._next_age_check:
            return
        self._next_age_check = time.monotonic() + 60
        cutoff = now_ms - self.max_age_ms
        n = int(self.db.execute("SELECT count(*) FROM pending WHERE ts_ms < ?", (cutoff,)).fetchone()[0])
        if n:
            with self._tx():
                self._drop_oldest(n, f"readings are older than {self.max_age_ms // 1000} s", where_ts_before=cutoff)

    def rows(self, after_id: int, before_id: int | None, limit: int) -> list[Row]:
        """Up to ``limit`` rows with after_id < id (< before_id), oldest first."""
        if before_id is None:
            cur = self.db.execute(
                "SELECT id, ts_ms, sample FROM pending WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit))
        else:
            cur = self.db.execute(
                "SELECT id, ts_ms, sample FROM pending WHERE id > ? AND id < ? ORDER BY id LIMIT ?",
                (after_id, before_id, limit))
        return [Row(*r) for r in cur.fetchall()]

    def delete(self, first_id: int, last_id: int) -> int:
        """Acknowledged: remove the rows of one message (a contiguous id range)."""
        with self._tx():
            n = self.db.execute("DELETE FROM pending WHERE id BETWEEN ? AND ?", (first_id, last_id)).rowcount
            self._count -= n
        return n

    def refuse(self, first_id: int, last_id: int, reason: str) -> int:
        """The broker said no for good (e.g. not authorized): keep the rows aside, with the reason."""
        now_ms = int(time.time() * 1000)
        with self._tx():
            self.db.execute(
                "INSERT OR IGNORE INTO refused (id, ts_ms, sample, reason, at_ms) "
                "SELECT id, ts_ms, sample, ?, ? FROM pending WHERE id BETWEEN ? AND ?",
                (reason, now_ms, first_id, last_id))
            n = self.db.execute("DELETE FROM pending WHERE id BETWEEN ? AND ?", (first_id, last_id)).rowcount
            self._count -= n
        return n

    def max_id(self) -> int:
        row = self.db.execute("SELECT max(id) FROM pending").fetchone()
        return int(row[0] or 0)

    def count(self) -> int:
        return self._count

    def oldest_ts_ms(self) -> int | None:
        row = self.db.execute("SELECT ts_ms FROM pending ORDER BY id LIMIT 1").fetchone()
        return None if row is None else int(row[0])

    def refused_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM refused").fetchone()[0])

    def meta(self, key: str, default: object = None) -> object:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else row[0]

    def close(self) -> None:
        self.db.close()

    # --- internals -------------------------------------------------------------------------------------

    @staticmethod
    def _open(path: Path | str, synchronous: str) -> sqlite3.Connection:
        """The buffer's connection, or a StoreError naming the file and why it cannot be opened."""
        fix = "set buffer_path (--buffer) to a file in a folder the agent can create and write"
        if str(path) != ":memory:":
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                problem = path_problem(Path(path).parent, exc, folder=True)
                raise StoreError(f"cannot open the agent's buffer {path}: {problem}; {fix}") from exc
        db: sqlite3.Connection | None = None
        try:
            db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={'FULL' if synchronous == 'full' else 'NORMAL'}")
            db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            if db is not None:
                db.close()
            raise StoreError(f"cannot open the agent's buffer {path}: {path_problem(Path(path), exc)}; {fix}") from exc
        return db

    def _tx(self) -> _Transaction:
        return _Transaction(self.db)

    def _set_meta(self, key: str, value: object) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value))

    def _drop_oldest(self, n: int, why: str, where_ts_before: int | None = None) -> None:
        if where_ts_before is None:
            span = self.db.execute(
                "SELECT min(id), max(id), min(ts_ms), max(ts_ms) FROM "
                "(SELECT id, ts_ms FROM pending ORDER BY id LIMIT ?)", (n,)).fetchone()
            removed = self.db.execute("DELETE FROM pending WHERE id <= ?", (span[1],)).rowcount
        else:
            span = self.db.execute(
                "SELECT min(id), max(id), min(ts_ms), max(ts_ms) FROM pending WHERE ts_ms < ?", (where_ts_before,)
            ).fetchone()
            removed = self.db.execute("DELETE FROM pending WHERE ts_ms < ?", (where_ts_before,)).rowcount
        self._count -= removed
        self.dropped += removed
        self._set_meta("dropped", self.dropped)
        log.warning(
            "buffer: %s: dropped the %d oldest readings (%s .. %s); %d dropped in all",
            why, removed, format_ts(span[2]), format_ts(span[3]), self.dropped,
        )


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
