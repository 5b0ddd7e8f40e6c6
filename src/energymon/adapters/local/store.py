"""The SQLite store: raw readings, minute energy and local hour/day/month rollups."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from energymon.adapters.local.packed_minutes import MinuteReadings
from energymon.adapters.local.sqlite import Database
from energymon.domain.energy import MINUTE_MS, floor_minute
from energymon.domain.reading import Reading, make_reading
from energymon.domain.timebuckets import local_day_bounds_ms, local_keys
from energymon.ports import DeviceSummary, Rollup, Store

if TYPE_CHECKING:
    import sqlite3
    from collections.abc import Callable, Iterable, Iterator, Sequence
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from energymon.domain.energy import MinuteEnergy

__all__ = ["SqliteStore"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    device TEXT NOT NULL, minute INTEGER NOT NULL, count INTEGER NOT NULL, counters INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (device, minute)
);
CREATE INDEX IF NOT EXISTS samples_counters ON samples (device, minute) WHERE counters > 0;
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
-- No index on hour or day: an hour's minutes are a range of the key (see _refresh), and every index is one more
-- page written per device and batch.
DROP INDEX IF EXISTS minutes_hour;
DROP INDEX IF EXISTS minutes_day;
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

# One statement for the three parts of readings_around (the batch's hottest read): the minute before the range,
# the range's minutes, the minute after it.
_AROUND = (
    "SELECT * FROM (SELECT minute, data FROM samples WHERE device=? AND minute<? ORDER BY minute DESC LIMIT 1) "
    "UNION ALL SELECT * FROM (SELECT minute, data FROM samples WHERE device=? AND minute>=? AND minute<=?) "
    "UNION ALL SELECT * FROM (SELECT minute, data FROM samples WHERE device=? AND minute>? ORDER BY minute LIMIT 1)"
)
_first = itemgetter(0)
_HOUR_MS = 3_600_000
_WHOLE_RANGE = 500  # minutes: a wider span of one call is read minute by minute (IN lists), not as one range


def _unpacked(device_id: str, rows: Iterable[tuple[int, bytes]]) -> list[Reading]:
    return [r for minute, data in rows for r in MinuteReadings.unpack(minute, data).readings(device_id)]


class SqliteStore(Store):
    def __init__(self, path: Path) -> None:
        # Checkpoints every 10,000 WAL pages (40 MB) instead of 1,000: a checkpoint syncs the file, and the pages a
        # batch rewrites every time (devices, the open hour, day and month) are copied back once per checkpoint.
        self.db = Database(path, _SCHEMA, checkpoint_pages=10_000)
        self._add_gap_columns()
        self._pack_reading_rows()

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

    def _pack_reading_rows(self) -> None:
        """Data directories from before the packed minutes hold a row per reading: packed here, once."""
        con = self.db.connection()
        if con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='readings'").fetchone() is None:
            return
        (count,) = con.execute("SELECT count(*) FROM readings").fetchone()
        # A one-time upgrade that can take minutes for years of 1 Hz data: say so before the silence.
        log.warning("packing %s raw readings of %s into one row per device and minute (once, about a "
                    "microsecond a reading)", f"{count:,}", self.db.path)
        started = time.monotonic()
        with self.db.transaction():
            rows: list[tuple[str, int, int, int, bytes]] = []
            group: list[Reading] = []
            key: tuple[str, int] | None = None
            cursor = con.execute("SELECT device, ts, power_w, energy_wh, export_wh, voltage_v, current_a FROM readings "
                                 "ORDER BY device, ts")
            for row in cursor:
                here = (row[0], row[1] - row[1] % MINUTE_MS)
                if here != key and group:
                    rows.append(_packed_row(group))
                    group = []
                key = here
                group.append(make_reading(*row))
                if len(rows) >= 1000:
                    con.executemany("INSERT INTO samples VALUES (?, ?, ?, ?, ?)", rows)
                    rows = []
            if group:
                rows.append(_packed_row(group))
            con.executemany("INSERT INTO samples VALUES (?, ?, ?, ?, ?)", rows)
            con.execute("DROP TABLE readings")
        log.warning("packed %s raw readings of %s in %.1f s", f"{count:,}", self.db.path, time.monotonic() - started)

    def _add_gap_columns(self) -> None:
        """Data directories made before gaps were tracked get the columns (appended, as in the schema)."""
        con = self.db.connection()
        for table, column in (("minutes", "gap"), ("hours", "gap_minutes"), ("days", "gap_minutes"),
                              ("months", "gap_minutes")):
            if column not in {row[1] for row in con.execute(f"PRAGMA table_info({table})")}:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0")

    def _add_readings(self, device_id: str, readings: Sequence[Reading]) -> int:
        groups: dict[int, list[Reading]] = {}
        for r in readings:
            groups.setdefault(r.ts_ms - r.ts_ms % MINUTE_MS, []).append(r)
        with self.db.transaction() as con:
            held = {minute: MinuteReadings.unpack(minute, data) for minute, data in self._minute_rows(con, device_id,
                                                                                                  sorted(groups))}
            added = 0
            rows = []
            for minute, group in groups.items():
                packed = held.get(minute)
                if packed is None:
                    packed = MinuteReadings.of(minute, _first_of_each(group))
                    count = len(packed)
                else:
                    count = packed.add(group)
                    if not count:
                        continue
                added += count
                rows.append((device_id, minute, len(packed), packed.counters, packed.pack()))
            if rows:
                con.executemany(
                    "INSERT INTO samples VALUES (?, ?, ?, ?, ?) ON CONFLICT (device, minute) DO UPDATE SET "
                    "count=excluded.count, counters=excluded.counters, data=excluded.data", rows)
            if added:
                last = max(r.ts_ms for r in readings)
                con.execute(
                    "INSERT INTO devices (device, readings, last_ts) VALUES (?, ?, ?) "
                    "ON CONFLICT (device) DO UPDATE SET readings = readings + excluded.readings, "
                    "last_ts = MAX(COALESCE(last_ts, 0), excluded.last_ts)",
                    (device_id, added, last),
                )
        return added

    @staticmethod
    def _minute_rows(con: sqlite3.Connection, device_id: str, minutes: list[int]) -> list[tuple[int, bytes]]:
        """The stored blobs of these minutes (sorted): one range when they are close, else IN lists."""
        if minutes[-1] - minutes[0] <= _WHOLE_RANGE * MINUTE_MS:
            rows = con.execute("SELECT minute, data FROM samples WHERE device=? AND minute>=? AND minute<=?",
                               (device_id, minutes[0], minutes[-1])).fetchall()
            wanted = set(minutes)
            return [row for row in rows if row[0] in wanted]
        out: list[tuple[int, bytes]] = []
        for chunk in _chunks(minutes):
            out += con.execute(f"SELECT minute, data FROM samples WHERE device=? AND minute IN "
                               f"({','.join('?' * len(chunk))})", (device_id, *chunk)).fetchall()
        return out

    answers_newest = True

    def newest_reading(self, device_id: str) -> Reading | None:
        row = self.db.connection().execute(
            "SELECT minute, data FROM samples WHERE device=? ORDER BY minute DESC LIMIT 1", (device_id,)
        ).fetchone()
        return None if row is None else MinuteReadings.unpack(*row).reading(device_id, -1)

    def readings_around(self, device_id: str, start_ms: int, end_ms: int) -> list[Reading]:
        first, last = floor_minute(start_ms), floor_minute(end_ms)
        rows = self.db.connection().execute(_AROUND, (device_id, first, device_id, first, last, device_id,
                                                      last)).fetchall()
        # The branches' minutes are disjoint, so sorting by minute puts them in order whatever order SQLite
        # returns them in; of the minutes beyond the range only the nearest reading is wanted.
        rows.sort(key=_first)
        before: Reading | None = None
        after: Reading | None = None
        inside: list[Reading] = []
        for minute, data in rows:
            packed = MinuteReadings.unpack(minute, data)
            if minute < first:
                before = packed.reading(device_id, -1)
            elif minute > last:
                if after is None:  # a reading later in the range's last minute is nearer
                    after = packed.reading(device_id, 0)
            else:
                for r in packed.readings(device_id):
                    if r.ts_ms < start_ms:
                        before = r
                    elif r.ts_ms <= end_ms:
                        inside.append(r)
                    elif after is None:
                        after = r
        return [*([before] if before else []), *inside, *([after] if after else [])]

    def readings_before(self, device_id: str, before_ms: int, limit: int) -> list[Reading]:
        # Every stored minute holds a reading, so limit + 1 minutes hold ``limit`` readings before the time;
        # they are unpacked newest first until that many are found.
        cursor = self.db.connection().execute(
            "SELECT minute, data FROM samples WHERE device=? AND minute<=? ORDER BY minute DESC LIMIT ?",
            (device_id, before_ms, limit + 1),
        )
        return _newest(cursor, limit, lambda packed: [r for r in packed.readings(device_id) if r.ts_ms < before_ms])

    def readings_after(self, device_id: str, after_ms: int, limit: int) -> list[Reading]:
        rows = self.db.connection().execute(
            "SELECT minute, data FROM samples WHERE device=? AND minute>=? ORDER BY minute LIMIT ?",
            (device_id, floor_minute(after_ms), limit + 1),
        ).fetchall()
        return [r for r in _unpacked(device_id, rows) if r.ts_ms > after_ms][:max(limit, 0)]

    def counter_readings(
        self, device_id: str, ts_ms: int, limit: int, *, forward: bool, within_ms: int
    ) -> list[Reading]:
        # Served by the partial index samples_counters, so a device without a counter costs nothing; each minute
        # it finds holds a counter reading, so limit + 1 minutes hold ``limit`` of them on the right side.
        con = self.db.connection()
        if forward:
            rows = con.execute(
                "SELECT minute, data FROM samples WHERE device=? AND counters>0 AND minute>=? AND minute<=? "
                "ORDER BY minute LIMIT ?", (device_id, floor_minute(ts_ms), ts_ms + within_ms, limit + 1)).fetchall()
            found = [r for row in rows
                     for r in MinuteReadings.unpack(*row).counter_readings(device_id, ts_ms + 1, ts_ms + within_ms)]
            return found[:max(limit, 0)]
        cursor = con.execute(
            "SELECT minute, data FROM samples WHERE device=? AND counters>0 AND minute<? AND minute>=? "
            "ORDER BY minute DESC LIMIT ?", (device_id, ts_ms, floor_minute(ts_ms - within_ms), limit + 1))
        return _newest(cursor, limit, lambda packed: packed.counter_readings(device_id, ts_ms - within_ms, ts_ms - 1,
                                                                             newest=limit))

    def _replace_minutes(
        self, device_id: str, start_ms: int, end_ms: int, minutes: Sequence[MinuteEnergy], tz_name: str,
        tz: ZoneInfo,
    ) -> None:
        with self.db.transaction() as con:
            # Rollups to refresh: those of the minutes we drop as well as those we write.
            old = con.execute(
                "DELETE FROM minutes WHERE device=? AND minute>=? AND minute<? RETURNING hour, day",
                (device_id, start_ms, end_ms),
            ).fetchall()
            rows = []
            hours, days = set(), set()
            for m in minutes:
                keys = local_keys(m.minute_ms, tz)
                hours.add(keys.hour_ms)
                days.add(keys.day)
                rows.append(
                    (device_id, m.minute_ms, m.import_mwh, m.export_mwh, m.peak_power_w, m.samples,
                     m.anomalies, keys.hour_ms, keys.day, keys.month, int(m.gap))
                )
            con.executemany("INSERT INTO minutes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            # An hour (day) that only lost minutes may have none left: its row must go rather than be rebuilt.
            self._refresh(con, device_id, hours, {hour for hour, _ in old} - hours, days,
                          {day for _, day in old} - days, tz)

    @staticmethod
    def _refresh(con: sqlite3.Connection, device_id: str, hours: set[int], emptied_hours: set[int], days: set[str],
                 emptied_days: set[str], tz: ZoneInfo) -> None:
        """Recompute the hour/day/month rows above changed minutes, set-wise (a long silence touches thousands).

        ``hours``/``days`` hold minutes just written; ``emptied_*`` only lost some, and may have none left.
        Each level is rebuilt from the one below it: hours from minutes, days from hours, months from days,
        so a batch reads at most an hour's minutes, a day's hours and a month's days, however far into the
        day it lands (days from minutes read up to 1,440 rows a batch by the evening). A local day holds
        exactly the hours that start in it: a local hour starts at a local minute 0 and midnight is one.
        Rows are replaced in place, one statement per level instead of a delete and an insert (a batch in the
        fleet's shape writes 10 readings per device, so its cost is statements, not rows); a row left with
        nothing below it is deleted before the level above is summed.
        """
        sums = "COALESCE(SUM(import_mwh), 0), COALESCE(SUM(export_mwh), 0), MAX(peak_w), COALESCE(SUM(samples), 0)"
        # The minutes labelled with local hour H lie in [H, H + 1 h) (H is a minute minus its local minutes into the
        # hour), so a run of nearby hours is read as one range of the primary key.
        for run in _runs(sorted(hours | emptied_hours)):
            con.execute(
                f"INSERT OR REPLACE INTO hours SELECT device, hour, {sums}, COALESCE(SUM(gap), 0) FROM minutes "
                f"WHERE device=? AND minute>=? AND minute<? AND hour IN ({','.join('?' * len(run))}) GROUP BY hour",
                (device_id, run[0], run[-1] + _HOUR_MS, *run),
            )
        for hour in sorted(emptied_hours):
            con.execute("DELETE FROM hours WHERE device=? AND hour=? AND NOT EXISTS (SELECT 1 FROM minutes WHERE "
                        "device=? AND minute>=? AND minute<? AND hour=?)",
                        (device_id, hour, device_id, hour, hour + _HOUR_MS, hour))
        refreshed = sorted(days | emptied_days)
        if len(refreshed) == 1:  # nearly every batch: one day, one range of its hours, no join
            day = refreshed[0]
            con.execute(
                f"INSERT OR REPLACE INTO days SELECT device, ?, ?, {sums}, COALESCE(SUM(gap_minutes), 0) FROM hours "
                "WHERE device=? AND hour>=? AND hour<? GROUP BY device",
                (day, day[:7], device_id, *local_day_bounds_ms(day, tz)),
            )
            refreshed = []
        for chunk in _chunks(refreshed, 300):
            bounds = [value for day in chunk for value in (day, *local_day_bounds_ms(day, tz))]
            con.execute(
                f"WITH d(day, lo, hi) AS (VALUES {','.join(['(?, ?, ?)'] * len(chunk))}) "
                f"INSERT OR REPLACE INTO days SELECT h.device, d.day, substr(d.day, 1, 7), {sums}, "
                "COALESCE(SUM(gap_minutes), 0) FROM d JOIN hours h ON h.device=? AND h.hour>=d.lo AND h.hour<d.hi "
                "GROUP BY d.day",
                (*bounds, device_id),
            )
        for day in sorted(emptied_days):
            lo, hi = local_day_bounds_ms(day, tz)
            con.execute("DELETE FROM days WHERE device=? AND day=? AND NOT EXISTS (SELECT 1 FROM hours WHERE device=? "
                        "AND hour>=? AND hour<?)", (device_id, day, device_id, lo, hi))
        for month in sorted({day[:7] for day in days | emptied_days}):
            # A month's days as a range of the primary key (device, day): `month = ?` would read every day the
            # device ever had, the table having no index on month.
            con.execute(
                f"INSERT OR REPLACE INTO months SELECT device, month, {sums}, COALESCE(SUM(gap_minutes), 0) FROM days "
                "WHERE device=? AND day>=? AND day<? GROUP BY month",
                (device_id, f"{month}-01", f"{month}-99"),
            )
            if emptied_days:
                con.execute("DELETE FROM months WHERE device=? AND month=? AND NOT EXISTS (SELECT 1 FROM days "
                            "WHERE days.device=months.device AND days.day>=? AND days.day<?)",
                            (device_id, month, f"{month}-01", f"{month}-99"))

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
        rows = con.execute("SELECT minute, data FROM samples WHERE device=? AND minute<? ORDER BY minute DESC LIMIT 2",
                           (device, before_ms)).fetchall()
        older = [r.ts_ms for r in _unpacked(device, reversed(rows)) if r.ts_ms < before_ms]
        if not older:
            return 0
        minute = floor_minute(older[-1])
        opener = con.execute("SELECT minute, data FROM samples WHERE device=? AND minute<? ORDER BY minute DESC "
                             "LIMIT 1", (device, minute)).fetchone()
        keep_from = minute if opener is None else _unpacked(device, [opener])[-1].ts_ms
        cutoff = None
        if warm_up_counters > 0:
            rows = con.execute("SELECT minute, data FROM samples WHERE device=? AND counters>0 AND minute<? "
                               "ORDER BY minute DESC LIMIT ?", (device, keep_from, warm_up_counters + 1)).fetchall()
            counters = [r.ts_ms for r in _unpacked(device, reversed(rows))
                        if r.energy_wh is not None and r.ts_ms < keep_from][-warm_up_counters:]
            cutoff = counters[0] if counters else None
        # Minutes wholly below the first reading kept go at once; the few in between keep what is kept in them.
        low = floor_minute(keep_from if cutoff is None else cutoff)
        purged = int(con.execute("SELECT COALESCE(SUM(count), 0) FROM samples WHERE device=? AND minute<?",
                                 (device, low)).fetchone()[0])
        con.execute("DELETE FROM samples WHERE device=? AND minute<?", (device, low))

        def kept(r: Reading) -> bool:
            return r.ts_ms >= keep_from or (cutoff is not None and r.energy_wh is not None and r.ts_ms >= cutoff)

        for at, data in con.execute("SELECT minute, data FROM samples WHERE device=? AND minute>=? AND minute<=?",
                                    (device, low, floor_minute(keep_from))).fetchall():
            packed = MinuteReadings.unpack(at, data)
            dropped = packed.keep(kept)
            if not dropped:
                continue
            purged += dropped
            if len(packed):
                con.execute("UPDATE samples SET count=?, counters=?, data=? WHERE device=? AND minute=?",
                            (len(packed), packed.counters, packed.pack(), device, at))
            else:
                con.execute("DELETE FROM samples WHERE device=? AND minute=?", (device, at))
        return purged

    def readings_count(self) -> int:
        """Raw readings held now (``devices`` counts every reading ever stored, purged ones included)."""
        return int(self.db.connection().execute("SELECT COALESCE(SUM(count), 0) FROM samples").fetchone()[0])

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
            last = None
            if last_ts is not None:
                rows = con.execute("SELECT minute, data FROM samples WHERE device=? AND minute=?",
                                   (device, floor_minute(last_ts))).fetchall()
                last = next((r for r in _unpacked(device, rows) if r.ts_ms == last_ts), None)
            out.append(DeviceSummary(device, count, last_ts, last.power_w if last else None,
                                     last.energy_wh if last else None))
        return out


def _runs(hours: list[int], size: int = 500) -> list[list[int]]:
    """Sorted hours cut where two are more than two hours apart (or a run reaches ``size``): each run is read as
    one key range, and hours far apart (a late reading a month back) do not read the month between them."""
    runs: list[list[int]] = []
    for hour in hours:
        if runs and hour - runs[-1][-1] <= 2 * _HOUR_MS and len(runs[-1]) < size:
            runs[-1].append(hour)
        else:
            runs.append([hour])
    return runs


def _newest(rows: Iterable[tuple[int, bytes]], limit: int,
            wanted: Callable[[MinuteReadings], list[Reading]]) -> list[Reading]:
    """The ``limit`` latest readings ``wanted`` picks from minutes given newest first, in time order; a minute is
    unpacked only while fewer have been found (the counters' warm-up usually needs one)."""
    if limit <= 0:
        return []
    found: list[Reading] = []
    for minute, data in rows:
        found[:0] = wanted(MinuteReadings.unpack(minute, data))
        if len(found) >= limit:
            break
    return found[-limit:]


def _packed_row(group: list[Reading]) -> tuple[str, int, int, int, bytes]:
    """A ``samples`` row for one device's readings of one minute (in time order, unique)."""
    minute = group[0].ts_ms - group[0].ts_ms % MINUTE_MS
    packed = MinuteReadings.of(minute, group)
    return group[0].device_id, minute, len(packed), packed.counters, packed.pack()


def _first_of_each(readings: list[Reading]) -> list[Reading]:
    """In time order, one reading per timestamp: the first given (what ``INSERT OR IGNORE`` would keep)."""
    if all(a.ts_ms < b.ts_ms for a, b in zip(readings, readings[1:], strict=False)):
        return readings
    first: dict[int, Reading] = {}
    for r in readings:
        first.setdefault(r.ts_ms, r)
    return [first[ts] for ts in sorted(first)]


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    return [values[i:i + size] for i in range(0, len(values), size)]

