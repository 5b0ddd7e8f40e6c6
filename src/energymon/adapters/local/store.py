"""The SQLite store: raw readings, minute energy and local hour/day/month rollups."""

from __future__ import annotations

from contextlib import contextmanager
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from energymon.adapters.local.sqlite import Database
from energymon.domain.energy import floor_minute
from energymon.domain.reading import Reading, make_reading
from energymon.domain.timebuckets import local_day_bounds_ms, local_keys
from energymon.ports import DeviceSummary, Rollup, Store

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Iterator, Sequence
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from energymon.domain.energy import MinuteEnergy

__all__ = ["SqliteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    device TEXT NOT NULL, ts INTEGER NOT NULL,
    power_w REAL, energy_wh REAL, export_wh REAL, voltage_v REAL, current_a REAL,
    PRIMARY KEY (device, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_counters ON readings (device, ts) WHERE energy_wh IS NOT NULL;
CREATE TABLE IF NOT EXISTS devices (
    device TEXT PRIMARY KEY, readings INTEGER NOT NULL DEFAULT 0, last_ts INTEGER
);
CREATE TABLE IF NOT EXISTS minutes (
    device TEXT NOT NULL, minute INTEGER NOT NULL,
    import_mwh INTEGER NOT NULL, export_mwh INTEGER NOT NULL, peak_w REAL, samples INTEGER NOT NULL,
    anomalies INTEGER NOT NULL, hour INTEGER NOT NULL, day TEXT NOT NULL, month TEXT NOT NULL,
    gap INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device, minute)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS minutes_hour ON minutes (device, hour);
CREATE INDEX IF NOT EXISTS minutes_day ON minutes (device, day);
CREATE TABLE IF NOT EXISTS hours (
    device TEXT NOT NULL, hour INTEGER NOT NULL,
    import_mwh INTEGER NOT NULL, export_mwh INTEGER NOT NULL, peak_w REAL, samples INTEGER NOT NULL,
    gap_minutes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device, hour)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS days (
    device TEXT NOT NULL, day TEXT NOT NULL, month TEXT NOT NULL,
    import_mwh INTEGER NOT NULL, export_mwh INTEGER NOT NULL, peak_w REAL, samples INTEGER NOT NULL,
    gap_minutes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS months (
    device TEXT NOT NULL, month TEXT NOT NULL,
    import_mwh INTEGER NOT NULL, export_mwh INTEGER NOT NULL, peak_w REAL, samples INTEGER NOT NULL,
    gap_minutes INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (device, month)
) WITHOUT ROWID;
"""

_READING_COLUMNS = "ts, power_w, energy_wh, export_wh, voltage_v, current_a"


_AROUND = (
    f"SELECT * FROM (SELECT {_READING_COLUMNS} FROM readings WHERE device=? AND ts<? ORDER BY ts DESC LIMIT 1) "
    f"UNION ALL SELECT * FROM (SELECT {_READING_COLUMNS} FROM readings WHERE device=? AND ts>=? AND ts<=?) "
    f"UNION ALL SELECT * FROM (SELECT {_READING_COLUMNS} FROM readings WHERE device=? AND ts>? ORDER BY ts LIMIT 1)"
)
_first = itemgetter(0)

_Row = tuple[int, float | None, float | None, float | None, float | None, float | None]


def _reading(device_id: str, row: _Row) -> Reading:
    return make_reading(device_id, *row)


class SqliteStore(Store):
    def __init__(self, path: Path) -> None:
        # Checkpoints every 10,000 WAL pages (40 MB) instead of 1,000: a checkpoint syncs the file, and the pages a
        # batch rewrites every time (devices, the open hour, day and month) are copied back once per checkpoint.
        self.db = Database(path, _SCHEMA, checkpoint_pages=10_000)
        self._add_gap_columns()

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for the whole batch: a page that several devices touch (``devices``, the rollups'
        upper levels) is copied to the WAL once per batch instead of once per device."""
        with self.db.transaction():
            yield

    @contextmanager
    def unit_of_work(self, device_id: str, *, exclusive: bool = False) -> Iterator[None]:
        """A device's batch as one part of the batch's transaction (or its own outside one): a failure half-way
        leaves nothing of that device behind and the other devices' writes stand. SQLite's write lock already
        keeps concurrent writers apart, so ``exclusive`` asks for nothing more."""
        del device_id, exclusive
        with self.db.savepoint():
            yield

    def _add_gap_columns(self) -> None:
        """Data directories made before gaps were tracked get the columns (appended, as in the schema)."""
        con = self.db.connection()
        for table, column in (("minutes", "gap"), ("hours", "gap_minutes"), ("days", "gap_minutes"),
                              ("months", "gap_minutes")):
            if column not in {row[1] for row in con.execute(f"PRAGMA table_info({table})")}:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")

    def _add_readings(self, device_id: str, readings: Sequence[Reading]) -> int:
        # Python's sqlite3 binds None through its adapter protocol (an attribute look-up and an exception per
        # value), so readings with just power and counter — nearly all — are inserted without the three
        # optional columns; they default to NULL.
        pairs, rows = [], []
        for r in readings:
            if r.export_wh is None and r.voltage_v is None and r.current_a is None and r.power_w is not None \
                    and r.energy_wh is not None:
                pairs.append((device_id, r.ts_ms, r.power_w, r.energy_wh))
            else:
                rows.append((device_id, r.ts_ms, r.power_w, r.energy_wh, r.export_wh, r.voltage_v, r.current_a))
        with self.db.transaction() as con:
            before = con.total_changes
            if pairs:
                con.executemany("INSERT OR IGNORE INTO readings (device, ts, power_w, energy_wh) VALUES (?, ?, ?, ?)",
                                pairs)
            if rows:
                con.executemany("INSERT OR IGNORE INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            added = con.total_changes - before
            if added:
                last = max(r.ts_ms for r in readings)
                con.execute(
                    "INSERT INTO devices (device, readings, last_ts) VALUES (?, ?, ?) "
                    "ON CONFLICT (device) DO UPDATE SET readings = readings + excluded.readings, "
                    "last_ts = MAX(COALESCE(last_ts, 0), excluded.last_ts)",
                    (device_id, added, last),
                )
        return added

    answers_newest = True

    def newest_reading(self, device_id: str) -> Reading | None:
        row = self.db.connection().execute(
            f"SELECT {_READING_COLUMNS} FROM readings WHERE device=? ORDER BY ts DESC LIMIT 1", (device_id,)
        ).fetchone()
        return None if row is None else make_reading(device_id, *row)

    def readings_around(self, device_id: str, start_ms: int, end_ms: int) -> list[Reading]:
        # One statement for the three parts (the batch's hottest read); their ranges are disjoint, so
        # sorting by time puts them in order whatever order SQLite returns the branches in.
        rows = self.db.connection().execute(_AROUND, (device_id, start_ms, device_id, start_ms, end_ms,
                                                      device_id, end_ms)).fetchall()
        rows.sort(key=_first)
        return [make_reading(device_id, *row) for row in rows]

    def readings_before(self, device_id: str, before_ms: int, limit: int) -> list[Reading]:
        rows = self.db.connection().execute(
            f"SELECT {_READING_COLUMNS} FROM readings WHERE device=? AND ts<? ORDER BY ts DESC LIMIT ?",
            (device_id, before_ms, limit),
        ).fetchall()
        return [_reading(device_id, row) for row in reversed(rows)]

    def readings_after(self, device_id: str, after_ms: int, limit: int) -> list[Reading]:
        rows = self.db.connection().execute(
            f"SELECT {_READING_COLUMNS} FROM readings WHERE device=? AND ts>? ORDER BY ts LIMIT ?",
            (device_id, after_ms, limit),
        ).fetchall()
        return [_reading(device_id, row) for row in rows]

    def counter_readings(
        self, device_id: str, ts_ms: int, limit: int, *, forward: bool, within_ms: int
    ) -> list[Reading]:
        # Served by the partial index readings_counters, so a device without a counter costs nothing.
        if forward:
            sql = (f"SELECT {_READING_COLUMNS} FROM readings WHERE device=? AND energy_wh IS NOT NULL "
                   "AND ts>? AND ts<=? ORDER BY ts LIMIT ?")
            rows = self.db.connection().execute(sql, (device_id, ts_ms, ts_ms + within_ms, limit)).fetchall()
        else:
            sql = (f"SELECT {_READING_COLUMNS} FROM readings WHERE device=? AND energy_wh IS NOT NULL "
                   "AND ts<? AND ts>=? ORDER BY ts DESC LIMIT ?")
            rows = self.db.connection().execute(sql, (device_id, ts_ms, ts_ms - within_ms, limit)).fetchall()[::-1]
        return [_reading(device_id, row) for row in rows]

    def _replace_minutes(
        self, device_id: str, start_ms: int, end_ms: int, minutes: Sequence[MinuteEnergy], tz_name: str,
        tz: ZoneInfo,
    ) -> None:
        with self.db.transaction() as con:
            # Rollups to refresh: those of the minutes we drop as well as those we write.
            old = con.execute(
                "SELECT DISTINCT hour, day FROM minutes WHERE device=? AND minute>=? AND minute<?",
                (device_id, start_ms, end_ms),
            ).fetchall()
            hours = {hour for hour, _ in old}
            days = {day for _, day in old}
            con.execute("DELETE FROM minutes WHERE device=? AND minute>=? AND minute<?", (device_id, start_ms, end_ms))
            rows = []
            for m in minutes:
                keys = local_keys(m.minute_ms, tz)
                hours.add(keys.hour_ms)
                days.add(keys.day)
                rows.append(
                    (device_id, m.minute_ms, m.import_mwh, m.export_mwh, m.peak_power_w, m.samples,
                     m.anomalies, keys.hour_ms, keys.day, keys.month, int(m.gap))
                )
            con.executemany("INSERT INTO minutes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            self._refresh(con, device_id, hours, days, tz)

    @staticmethod
    def _refresh(con: sqlite3.Connection, device_id: str, hours: set[int], days: set[str], tz: ZoneInfo) -> None:
        """Recompute the hour/day/month rows above changed minutes, set-wise (a long silence touches thousands).

        Each level is rebuilt from the one below it: hours from minutes, days from hours, months from days,
        so a batch reads at most an hour's minutes, a day's hours and a month's days, however far into the
        day it lands (days from minutes read up to 1,440 rows a batch by the evening). A local day holds
        exactly the hours that start in it: a local hour starts at a local minute 0 and midnight is one.
        """
        sums = "COALESCE(SUM(import_mwh), 0), COALESCE(SUM(export_mwh), 0), MAX(peak_w), COALESCE(SUM(samples), 0)"
        for chunk in _chunks(sorted(hours)):
            marks = ",".join("?" * len(chunk))
            con.execute(f"DELETE FROM hours WHERE device=? AND hour IN ({marks})", (device_id, *chunk))
            # INDEXED BY: with one hour in the list (nearly every batch) SQLite's planner prefers the primary key
            # on device alone and reads every minute the device ever had: 2,126 µs instead of 7 after 30 days
            # (BENCHMARKS.md, "Scale"; tests/functional/test_sqlite_query_plans.py).
            con.execute(
                f"INSERT INTO hours SELECT device, hour, {sums}, COALESCE(SUM(gap), 0) FROM minutes "
                f"INDEXED BY minutes_hour WHERE device=? AND hour IN ({marks}) GROUP BY hour",
                (device_id, *chunk),
            )
        for chunk in _chunks(sorted(days), 300):
            marks = ",".join("?" * len(chunk))
            con.execute(f"DELETE FROM days WHERE device=? AND day IN ({marks})", (device_id, *chunk))
            bounds = [value for day in chunk for value in (day, *local_day_bounds_ms(day, tz))]
            con.execute(
                f"WITH d(day, lo, hi) AS (VALUES {','.join(['(?, ?, ?)'] * len(chunk))}) "
                f"INSERT INTO days SELECT h.device, d.day, substr(d.day, 1, 7), {sums}, COALESCE(SUM(gap_minutes), 0) "
                "FROM d JOIN hours h ON h.device=? AND h.hour>=d.lo AND h.hour<d.hi GROUP BY d.day",
                (*bounds, device_id),
            )
        for month in sorted({day[:7] for day in days}):
            con.execute("DELETE FROM months WHERE device=? AND month=?", (device_id, month))
            # A month's days as a range of the primary key (device, day): `month = ?` would read every day the
            # device ever had, the table having no index on month.
            con.execute(
                f"INSERT INTO months SELECT device, month, {sums}, COALESCE(SUM(gap_minutes), 0) FROM days "
                "WHERE device=? AND day>=? AND day<? GROUP BY month",
                (device_id, f"{month}-01", f"{month}-99"),
            )

    def _utc_rollups(self, device_id: str, resolution: str, start_ms: int, end_ms: int) -> list[tuple[int, Rollup]]:
        table, key, gap = ("minutes", "minute", "gap") if resolution == "minute" else ("hours", "hour", "gap_minutes")
        rows = self.db.connection().execute(
            f"SELECT {key}, import_mwh, export_mwh, peak_w, samples, {gap} FROM {table} "
            f"WHERE device=? AND {key}>=? AND {key}<? ORDER BY {key}",
            (device_id, start_ms, end_ms),
        ).fetchall()
        return [(k, Rollup(i, e, p, s, g)) for k, i, e, p, s, g in rows]

    def _local_rollups(
        self, device_id: str, resolution: str, first: str, last: str, tz: ZoneInfo
    ) -> list[tuple[str, Rollup]]:
        table, key = ("days", "day") if resolution == "day" else ("months", "month")
        rows = self.db.connection().execute(
            f"SELECT {key}, import_mwh, export_mwh, peak_w, samples, gap_minutes FROM {table} "
            f"WHERE device=? AND {key}>=? AND {key}<=? ORDER BY {key}",
            (device_id, first, last),
        ).fetchall()
        return [(k, Rollup(i, e, p, s, g)) for k, i, e, p, s, g in rows]

    def energy_sums(self, device_id: str, ranges: Sequence[tuple[int, int]]) -> list[int]:
        con = self.db.connection()
        sql = "SELECT COALESCE(SUM(import_mwh), 0) FROM minutes WHERE device=? AND minute>=? AND minute<?"
        return [int(con.execute(sql, (device_id, start, end)).fetchone()[0]) for start, end in ranges]

    def purge_readings(self, before_ms: int, warm_up_counters: int) -> int:
        """Delete raw readings older than ``before_ms``, except what a recompute can still read below it.

        Kept per device (see processing/retention.py): the newest reading older than the horizon, every
        reading of its minute, the reading before that minute, and ``warm_up_counters`` counter readings
        before that one. A device silent for longer than the retention keeps the reading that opens its
        silence, so late data inside the silence is recomputed exactly as it would have been. Returns the
        number of readings deleted; rollups are never touched.
        """
        purged = 0
        for (device,) in self.db.connection().execute("SELECT device FROM devices ORDER BY device").fetchall():
            with self.db.transaction() as con:
                purged += self._purge_device(con, device, before_ms, warm_up_counters)
        return purged

    @staticmethod
    def _purge_device(con: sqlite3.Connection, device: str, before_ms: int, warm_up_counters: int) -> int:
        newest = con.execute("SELECT MAX(ts) FROM readings WHERE device=? AND ts<?", (device, before_ms)).fetchone()[0]
        if newest is None:
            return 0
        minute = floor_minute(newest)
        opener = con.execute("SELECT MAX(ts) FROM readings WHERE device=? AND ts<?", (device, minute)).fetchone()[0]
        keep_from = minute if opener is None else opener
        counters = con.execute(
            "SELECT MIN(ts) FROM (SELECT ts FROM readings WHERE device=? AND energy_wh IS NOT NULL AND ts<? "
            "ORDER BY ts DESC LIMIT ?)", (device, keep_from, warm_up_counters),
        ).fetchone()[0]
        before = con.total_changes
        if counters is None:
            con.execute("DELETE FROM readings WHERE device=? AND ts<?", (device, keep_from))
        else:
            con.execute(
                "DELETE FROM readings WHERE device=? AND ts<? AND NOT (energy_wh IS NOT NULL AND ts>=?)",
                (device, keep_from, counters),
            )
        return con.total_changes - before

    def readings_count(self) -> int:
        """Raw readings held now (``devices`` counts every reading ever stored, purged ones included)."""
        return int(self.db.connection().execute("SELECT COUNT(*) FROM readings").fetchone()[0])

    def compact(self) -> int:
        """Give the pages freed by a purge back to the file system; the bytes the file shrank by."""
        con = self.db.connection()
        size = self.db.path.stat().st_size
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        free = con.execute("PRAGMA freelist_count").fetchone()[0]
        if free:
            con.execute("VACUUM")
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return max(size - self.db.path.stat().st_size, 0)

    def devices(self) -> list[DeviceSummary]:
        con = self.db.connection()
        out = []
        for device, count, last_ts in con.execute("SELECT device, readings, last_ts FROM devices ORDER BY device"):
            row = con.execute(
                "SELECT power_w, energy_wh FROM readings WHERE device=? AND ts=?", (device, last_ts)
            ).fetchone()
            out.append(DeviceSummary(device, count, last_ts, row[0] if row else None, row[1] if row else None))
        return out


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    return [values[i:i + size] for i in range(0, len(values), size)]

