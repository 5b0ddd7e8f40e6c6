"""Rollups are replaced in place; an hour, day or month whose minutes are all replaced by nothing is removed, and
one that keeps some minutes is rebuilt from them — and the statements that decide it read bounded ranges."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from energymon.adapters.local.store import SqliteStore
from energymon.domain.energy import MINUTE_MS, MinuteEnergy

if TYPE_CHECKING:
    from pathlib import Path

HOUR = 60 * MINUTE_MS
# 2026-01-31 23:00 UTC and the hour after it: two hours, two days and two months in UTC.
LAST_HOUR_OF_JANUARY = 1_769_900_400_000


def _minutes(start: int, count: int, mwh: int = 100) -> list[MinuteEnergy]:
    return [MinuteEnergy(start + i * MINUTE_MS, mwh, 0, 50.0, 1) for i in range(count)]


def _rows(store: SqliteStore) -> dict[str, list[tuple]]:
    con = sqlite3.connect(store.db.path)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in ("hours", "days", "months")}
    finally:
        con.close()


def test_given_a_whole_hour_replaced_by_nothing_when_refreshed_then_its_hour_day_and_month_rows_are_gone(
    tmp_path: Path,
) -> None:
    # GIVEN minutes in the last hour of January and the first of February
    store = SqliteStore(tmp_path / "store.db")
    start = LAST_HOUR_OF_JANUARY
    store.replace_minutes("apt-1", start, start + 2 * HOUR, _minutes(start, 120), "UTC")
    assert [row[1] for row in _rows(store)["months"]] == ["2026-01", "2026-02"]
    statements: list[str] = []
    store.db.connection().set_trace_callback(statements.append)
    # WHEN February's hour is replaced by no minutes at all
    store.replace_minutes("apt-1", start + HOUR, start + 2 * HOUR, [], "UTC")
    store.db.connection().set_trace_callback(None)
    # THEN only January's rows are left, with their sums unchanged
    rows = _rows(store)
    assert rows["hours"] == [("apt-1", start, 6_000, 0, 50.0, 60, 0)]
    assert rows["days"] == [("apt-1", "2026-01-31", "2026-01", 6_000, 0, 50.0, 60, 0)]
    assert rows["months"] == [("apt-1", "2026-01", 6_000, 0, 50.0, 60, 0)]
    # AND the statements that removed them searched by a bounded key, not the device's whole history
    probe = sqlite3.connect(store.db.path)
    deletes = [sql for sql in statements if sql.startswith("DELETE FROM") and "NOT EXISTS" in sql]
    assert len(deletes) == 3
    for sql in deletes:
        plan = [row[3] for row in probe.execute(f"EXPLAIN QUERY PLAN {sql}")]
        assert not any(line.startswith("SCAN") for line in plan), (sql, plan)
    probe.close()


def test_given_part_of_an_hour_replaced_by_nothing_when_refreshed_then_the_hour_keeps_the_rest(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db")
    start = LAST_HOUR_OF_JANUARY
    store.replace_minutes("apt-1", start, start + HOUR, _minutes(start, 60), "UTC")
    store.replace_minutes("apt-1", start + 30 * MINUTE_MS, start + HOUR, [], "UTC")
    rows = _rows(store)
    assert rows["hours"] == [("apt-1", start, 3_000, 0, 50.0, 30, 0)]
    assert rows["months"] == [("apt-1", "2026-01", 3_000, 0, 50.0, 30, 0)]
