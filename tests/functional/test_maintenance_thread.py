"""GIVEN a data directory holding raw readings past the retention and closed days of per-batch archive
files, WHEN the local runtime runs (nobody calls `energymon maintain`), THEN its maintenance thread purges
the old raw readings and compacts the closed days by itself, leaving every rollup as it was."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from archive_data import history

from energymon.adapters.columnar import DAY_FILE, day_key
from energymon.config import load_settings
from energymon.runtimes.local import LocalRuntime

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def quick_maintenance(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The real runtime waits a minute after start, then an hour between runs; the schedule is what is
    # under test, not its length.
    monkeypatch.setattr(LocalRuntime, "MAINTENANCE_FIRST_DELAY_S", 0.5)
    monkeypatch.setattr(LocalRuntime, "MAINTENANCE_INTERVAL_S", 0.5)
    yield


def test_the_runtime_applies_retention_and_compaction_on_its_own(tmp_path: Path, quick_maintenance: None) -> None:
    data = history(tmp_path)
    before = {d: data.rollups(d) for d in ("apt-1", "apt-2")}
    held = data.store.readings_count()
    raw = tmp_path / "archive" / "raw"
    old_day = sorted(raw.iterdir())[0]
    day_file = tmp_path / "archive" / day_key(old_day.name.removeprefix("date="))
    assert not day_file.exists()

    runtime = LocalRuntime(load_settings(data_dir=tmp_path, broker_port=0, web_port=0, simulate=0))
    runtime.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
            day_file.exists() and data.store.readings_count() < held
        ):
            time.sleep(0.2)
        states = {c.name: c.status for c in runtime.health.components()}
    finally:
        runtime.stop()

    assert states.get("maintenance") == "ok", states
    assert day_file.exists(), "the closed day was not compacted into one Parquet file"
    assert sorted(p.name for p in day_file.parent.iterdir()) == [DAY_FILE]
    assert not old_day.exists() or not list(old_day.iterdir()), "batch files left beside the day file"
    # the three old days are purged but for the few readings a recompute can still reach
    assert held - data.store.readings_count() >= 2 * 3 * 288 - 2 * 30
    assert {d: data.rollups(d) for d in ("apt-1", "apt-2")} == before
