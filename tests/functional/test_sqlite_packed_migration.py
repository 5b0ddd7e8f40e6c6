"""A data directory from before the packed minutes (a row per reading) opens with every reading kept, packed once."""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING

from energymon.adapters.local.store import SqliteStore
from energymon.domain.reading import Reading

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

_OLD_SCHEMA = """
CREATE TABLE readings (
    device TEXT NOT NULL, ts INTEGER NOT NULL,
    power_w REAL, energy_wh REAL, export_wh REAL, voltage_v REAL, current_a REAL,
    PRIMARY KEY (device, ts)
) WITHOUT ROWID;
CREATE INDEX readings_counters ON readings (device, ts) WHERE energy_wh IS NOT NULL;
CREATE TABLE devices (device TEXT PRIMARY KEY, readings INTEGER NOT NULL DEFAULT 0, last_ts INTEGER);
"""
T0 = 1_796_000_000_000


def test_given_a_store_with_a_row_per_reading_when_opened_then_every_reading_is_there_packed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # GIVEN a store file of the old layout: two devices, 3 minutes of readings, one with every optional field
    readings = [Reading(f"apt-{d}", T0 + i * 7_000, 100.0 + i, 5.0 + i if i % 3 else None) for d in (1, 2)
                for i in range(26)]
    readings.append(Reading("apt-2", T0 + 200_000, -3.5, 9.0, 1.25, 231.0, 0.5))
    con = sqlite3.connect(tmp_path / "store.db")
    con.executescript(_OLD_SCHEMA)
    con.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(r.device_id, r.ts_ms, r.power_w, r.energy_wh, r.export_wh, r.voltage_v, r.current_a)
                     for r in readings])
    con.executemany("INSERT INTO devices VALUES (?, ?, ?)", [("apt-1", 26, T0 + 25 * 7_000), ("apt-2", 27, T0 + 200_000)])
    con.commit()
    con.close()
    # WHEN the store opens it
    with caplog.at_level(logging.WARNING, logger="energymon.adapters.local.store"):
        store = SqliteStore(tmp_path / "store.db")
    # THEN it says what it packs before it starts (minutes for years of data), and when it is done
    said = [r.getMessage() for r in caplog.records]
    assert said[0].startswith(f"packing {len(readings)} raw readings of ") and "once" in said[0], said
    assert said[1].startswith(f"packed {len(readings)} raw readings of "), said
    # AND every reading reads back the same, the old table is gone, and the counts and last readings hold
    for device in ("apt-1", "apt-2"):
        assert store.readings_around(device, 0, 2**62) == [r for r in readings if r.device_id == device]
    assert store.readings_count() == len(readings)
    names = {row[0] for row in store.db.connection().execute("SELECT name FROM sqlite_master")}
    assert "readings" not in names and "samples" in names
    last = {d.device_id: (d.last_power_w, d.last_energy_wh) for d in store.devices()}
    assert last == {"apt-1": (125.0, 30.0), "apt-2": (-3.5, 9.0)}
    # AND opening it again changes nothing
    store.db.close()
    caplog.clear()
    again = SqliteStore(tmp_path / "store.db")
    assert not caplog.records
    assert again.readings_count() == len(readings)
