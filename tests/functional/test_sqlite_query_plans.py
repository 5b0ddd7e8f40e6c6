"""GIVEN a SQLite store holding days of one device's readings, WHEN one more batch is processed, THEN every
statement the batch runs reads a bounded range through an index: none reads the device's whole history, so a
batch costs the same on the first day and after a year (SQLite's planner read every minute of the device for a
one-hour refresh until the statement named its index; BENCHMARKS.md, "Scale")."""

from __future__ import annotations

import re
import sqlite3
from typing import TYPE_CHECKING

from archive_data import DAY, MIN, deliver, meter, processor

if TYPE_CHECKING:
    from pathlib import Path

_TABLES = r"(readings|minutes|hours|days|months|devices)"
#: A plan line that reads a table by the device alone (every row of that device, however old) or whole. A scan of
#: a subquery or of a CTE's constant rows is not one.
_WHOLE_DEVICE = re.compile(rf"^SEARCH {_TABLES} USING (PRIMARY KEY|(COVERING )?INDEX \w+) \(device=\?\)$"
                           rf"|^SCAN {_TABLES}\b")


_KEY_LIMIT = re.compile(r"ORDER BY ts( DESC)? LIMIT \d+$")


def _walks_the_key_for_a_few(sql: str, lines: list[str]) -> bool:
    """``... WHERE device=? ORDER BY ts DESC LIMIT 1`` plans as a search on the device alone, but SQLite walks the
    key in order and stops after the limit (no temporary B-tree sorts the device's rows first)."""
    return bool(_KEY_LIMIT.search(sql)) and not any("TEMP B-TREE" in line for line in lines)


def test_a_batch_reads_bounded_ranges_only_however_long_the_history(tmp_path: Path) -> None:
    proc, store = processor(tmp_path)
    history = meter("apt-1", 1_796_000_000_000 // DAY * DAY, 3 * 288, 5 * MIN, 1000.0)
    deliver(proc, history)
    statements: list[str] = []
    con = store.db.connection()
    con.set_trace_callback(statements.append)
    try:
        deliver(proc, meter("apt-1", history[-1].ts_ms + MIN, 10, 10_000, (history[-1].energy_wh or 0) + 1))
    finally:
        con.set_trace_callback(None)

    plans = {}
    probe = sqlite3.connect(tmp_path / "store.db")
    for sql in statements:
        if sql.lstrip().upper().startswith(("SELECT", "INSERT", "DELETE", "UPDATE", "WITH")):
            plans[sql] = [row[3] for row in probe.execute(f"EXPLAIN QUERY PLAN {sql}")]
    assert any("INTO hours" in sql for sql in plans), "the batch refreshed no hour: nothing was checked"
    whole = {sql: [line for line in lines if _WHOLE_DEVICE.search(line)] for sql, lines in plans.items()
             if not _walks_the_key_for_a_few(sql, lines)}
    assert not {sql: lines for sql, lines in whole.items() if lines}, "statements reading a device's whole history"
