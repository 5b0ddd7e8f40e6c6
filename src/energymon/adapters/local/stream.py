"""The local twin of a Kinesis data stream: a durable, sharded SQLite log with checkpoints."""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from typing import TYPE_CHECKING

from energymon.adapters.local.sqlite import Database
from energymon.errors import ConfigError
from energymon.ports import Stream, StreamRecord

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

__all__ = ["LocalStream", "shard_for"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    shard INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    partition_key TEXT NOT NULL,
    data BLOB NOT NULL,
    arrival REAL NOT NULL,
    PRIMARY KEY (shard, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    consumer TEXT NOT NULL,
    shard INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (consumer, shard)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def shard_for(partition_key: str, shards: int) -> int:
    """Kinesis maps the MD5 of the partition key onto equal hash-key ranges; so do we."""
    digest = int.from_bytes(hashlib.md5(partition_key.encode(), usedforsecurity=False).digest(), "big")
    return digest * shards >> 128


def shard_name(shard: int) -> str:
    return f"shardId-{shard:012d}"


def _shard_number(shard_id: str) -> int:
    return int(shard_id.rsplit("-", 1)[1])


class LocalStream(Stream):
    def __init__(self, path: Path, shards: int = 2, retention_hours: float = 24.0) -> None:
        if not 1 <= shards <= 64:
            raise ConfigError(f"shards must be between 1 and 64, got {shards}")
        self.db = Database(path, _SCHEMA)
        try:
            with self.db.transaction() as con:
                row = con.execute("SELECT value FROM meta WHERE key='shards'").fetchone()
                if row is None:
                    con.execute("INSERT INTO meta VALUES ('shards', ?)", (str(shards),))
                elif int(row[0]) != shards:
                    # Re-sharding would move devices between shards and break per-device order.
                    raise ConfigError(
                        f"the stream in {path} was made with {row[0]} shards, but the settings ask for {shards}: "
                        "re-sharding would move devices between shards and break the order of their readings. "
                        f"Keep `shards = {row[0]}` (config file, or ENERGYMON_SHARDS={row[0]}), "
                        f"or start a new data directory (--data-dir) for {shards} shards"
                    )
        except ConfigError:
            self.db.close()
            raise
        self.shards = shards
        self.retention_s = retention_hours * 3600

    def shard_ids(self) -> list[str]:
        return [shard_name(i) for i in range(self.shards)]

    def put_records(self, records: Sequence[tuple[str, bytes]]) -> list[tuple[str, str]]:
        now = time.time()
        by_shard: dict[int, list[int]] = defaultdict(list)
        for index, (key, _) in enumerate(records):
            by_shard[shard_for(key, self.shards)].append(index)
        result: list[tuple[str, str]] = [("", "")] * len(records)
        with self.db.transaction() as con:
            for shard, indexes in by_shard.items():
                (last,) = con.execute("SELECT COALESCE(MAX(seq), 0) FROM records WHERE shard=?", (shard,)).fetchone()
                if last == 0:
                    # After a trim the table may be empty: never reuse a sequence number.
                    row = con.execute("SELECT value FROM meta WHERE key=?", (f"last_seq_{shard}",)).fetchone()
                    last = int(row[0]) if row else 0
                rows = []
                for offset, index in enumerate(indexes, start=1):
                    key, data = records[index]
                    rows.append((shard, last + offset, key, data, now))
                    result[index] = (shard_name(shard), str(last + offset))
                con.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?)", rows)
                con.execute(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"last_seq_{shard}", str(last + len(indexes)))
                )
        return result

    def get_records(self, shard_id: str, after: str | None, limit: int) -> list[StreamRecord]:
        rows = self.db.connection().execute(
            "SELECT seq, partition_key, data, arrival FROM records WHERE shard=? AND seq>? ORDER BY seq LIMIT ?",
            (_shard_number(shard_id), int(after or 0), limit),
        )
        return [StreamRecord(shard_id, str(seq), key, data, arrival) for seq, key, data, arrival in rows]

    def get_checkpoint(self, consumer: str, shard_id: str) -> str | None:
        row = self.db.connection().execute(
            "SELECT seq FROM checkpoints WHERE consumer=? AND shard=?", (consumer, _shard_number(shard_id))
        ).fetchone()
        return str(row[0]) if row else None

    def set_checkpoint(self, consumer: str, shard_id: str, sequence_number: str) -> None:
        with self.db.transaction() as con:
            con.execute(
                "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?)",
                (consumer, _shard_number(shard_id), int(sequence_number)),
            )

    def lag(self, consumer: str) -> int:
        con = self.db.connection()
        total = 0
        for shard in range(self.shards):
            row = con.execute("SELECT seq FROM checkpoints WHERE consumer=? AND shard=?", (consumer, shard)).fetchone()
            (count,) = con.execute(
                "SELECT COUNT(*) FROM records WHERE shard=? AND seq>?", (shard, row[0] if row else 0)
            ).fetchone()
            total += count
        return int(total)

    def trim(self, now: float | None = None) -> int:
        """Drop records older than the retention period, as Kinesis does; return how many."""
        cutoff = (now or time.time()) - self.retention_s
        with self.db.transaction() as con:
            return con.execute("DELETE FROM records WHERE arrival < ?", (cutoff,)).rowcount
