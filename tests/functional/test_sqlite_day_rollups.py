"""The SQLite store builds days from hours: the same totals as summing a day's minutes, in awkward zones too."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energymon.adapters.local.store import SqliteStore
from energymon.domain.energy import MINUTE_MS, MinuteEnergy

if TYPE_CHECKING:
    from pathlib import Path

# DST at midnight (Havana, Santiago), a 30-minute DST (Lord Howe), a 45-minute offset (Chatham), a plain one.
ZONES = ["America/Havana", "America/Santiago", "Australia/Lord_Howe", "Pacific/Chatham", "Europe/Berlin"]
# Around transitions of those zones in 2026 (March/April and September/October/November).
STARTS = [1_775_000_000_000, 1_775_260_000_000, 1_788_000_000_000, 1_791_000_000_000, 1_794_000_000_000]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(ZONES), st.sampled_from(STARTS),
       st.lists(st.tuples(st.integers(0, 4 * 1440), st.integers(0, 5000), st.integers(0, 3)), min_size=1,
                max_size=60))
def test_days_hold_the_sum_of_their_minutes(tmp_path: Path, tz: str, start: int, spec: list) -> None:
    # GIVEN a store WHEN scattered minutes over four days around a transition are written, in two batches
    store = SqliteStore(tmp_path / f"{tz.replace('/', '_')}-{start}-{len(spec)}.db")
    base = start - start % MINUTE_MS
    minutes = {base + m * MINUTE_MS: MinuteEnergy(base + m * MINUTE_MS, mwh, 0, float(mwh), 1, 0, gap)
               for m, mwh, gap in spec}
    ordered = sorted(minutes.values(), key=lambda m: m.minute_ms)
    half = len(ordered) // 2
    end = base + (4 * 1440 + 1) * MINUTE_MS
    store.replace_minutes("apt-1", base, end, ordered[:half], tz)
    store.replace_minutes("apt-1", ordered[half].minute_ms, end, ordered[half:], tz)
    # THEN every local day (and month) row is the sum of the minutes labelled with that day (month)
    con = sqlite3.connect(store.db.path)
    cols = "SUM(import_mwh), SUM(export_mwh), MAX(peak_w), SUM(samples)"
    expected = con.execute(f"SELECT day, month, {cols}, SUM(gap) FROM minutes GROUP BY day ORDER BY day").fetchall()
    assert con.execute(f"SELECT day, month, {cols}, SUM(gap_minutes) FROM days GROUP BY day ORDER BY day").fetchall() \
        == expected
    months = con.execute(f"SELECT month, {cols}, SUM(gap) FROM minutes GROUP BY month ORDER BY month").fetchall()
    assert con.execute(f"SELECT month, {cols}, SUM(gap_minutes) FROM months GROUP BY month").fetchall() == months
    con.close()
