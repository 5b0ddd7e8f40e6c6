"""GIVEN a data directory with raw readings older than the retention and a closed day's per-batch archive
files, WHEN `energymon maintain` runs, THEN it purges the old raw readings (rollups untouched), merges each
closed day into one Parquet file holding exactly that day's readings, reports a damaged file by name, and
says what it did."""

from __future__ import annotations

import gzip
from typing import TYPE_CHECKING

from archive_data import history
from typer.testing import CliRunner

from energymon.adapters.columnar import DAY_FILE, decode_file
from energymon.domain.reading import format_ts
from energymon.runtimes.cli import app

if TYPE_CHECKING:
    from pathlib import Path


def test_maintain_purges_old_raw_readings_and_compacts_closed_days(tmp_path: Path) -> None:
    data = history(tmp_path)
    before = {d: data.rollups(d) for d in ("apt-1", "apt-2")}
    held = data.store.readings_count()
    raw = tmp_path / "archive" / "raw"
    old_day = sorted(raw.iterdir())[0]
    assert len(list(old_day.glob("*.ndjson.gz"))) > 1
    (old_day / "shardId-000000000000-broken.ndjson.gz").write_bytes(gzip.compress(b'{"device_id": "x"}\n' * 50)[:40])

    result = CliRunner().invoke(app, ["maintain", "--data-dir", str(tmp_path)])

    assert result.exit_code == 0, result.output
    purged = held - data.store.readings_count()
    assert 2 * 3 * 288 - 2 * 30 <= purged < 2 * 3 * 288  # the old days, less the few a recompute can still reach
    assert f"purged {purged} raw reading(s) older than the retention" in result.output
    assert "shardId-000000000000-broken.ndjson.gz: not a whole gzip file" in result.output
    assert {d: data.rollups(d) for d in ("apt-1", "apt-2")} == before
    # every closed day is one Parquet file with exactly that day's readings; today's batch files stay as they are
    days = sorted(raw.iterdir())
    closed = [d for d in days if (d / DAY_FILE).exists()]
    assert len(closed) >= len(days) - 1 and old_day in closed
    assert sorted(p.name for p in old_day.iterdir()) == sorted([DAY_FILE, "shardId-000000000000-broken.ndjson.gz"])
    merged = sum(len(decode_file(DAY_FILE, (d / DAY_FILE).read_bytes()).readings) for d in closed)
    in_closed = {d.name.removeprefix("date=") for d in closed}
    assert merged == sum(1 for r in data.readings if format_ts(r.ts_ms)[:10] in in_closed)
    files_line = next(line for line in result.output.splitlines() if "compacted the archive" in line)
    assert f"into {len(closed)} daily file(s)" in files_line

    # WHEN it runs again THEN there is nothing left to do but report the damaged file again
    again = CliRunner().invoke(app, ["maintain", "--data-dir", str(tmp_path)])
    assert "purged 0 raw reading(s)" in again.output
    assert "0 file(s) merged into 0 daily file(s)" in again.output


def test_maintain_without_a_store_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["maintain", "--data-dir", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "no store in" in result.output
