"""GIVEN a data directory with raw readings older than the retention and a closed day's per-batch archive
files, WHEN `energymon maintain` runs, THEN it purges the old raw readings (rollups untouched), merges each
closed day into one Parquet file holding exactly that day's readings, reports a damaged file by name, and
says what it did."""

from __future__ import annotations

import gzip
from typing import TYPE_CHECKING

from archive_data import history
from typer.testing import CliRunner

from energymon.adapters.columnar import DAY_FILE, day_key, decode_file, legacy_day_key
from energymon.adapters.local.archive import FolderArchive
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
    # (in days/, apart from the batch files: only the damaged one stays in raw/, never deleted)
    archive = tmp_path / "archive"
    dates = {d.name for d in raw.iterdir()} | {d.name for d in (archive / "days").iterdir()}
    closed = sorted(archive / "days" / d for d in dates if (archive / "days" / d / DAY_FILE).exists())
    assert len(closed) >= len(dates) - 1 and archive / "days" / old_day.name in closed
    assert sorted(p.name for p in old_day.iterdir()) == ["shardId-000000000000-broken.ndjson.gz"]
    assert all(sorted(p.name for p in d.iterdir()) == [DAY_FILE] for d in closed)
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


def test_day_files_of_the_earlier_layout_are_read_and_moved_to_days_by_the_next_compaction(tmp_path: Path) -> None:
    """GIVEN a data directory compacted before days/ existed (the day file beside its batch files in raw/) and a
    late batch file for that day, THEN sql and replay read the old file, and `maintain` merges both into days/."""
    data = history(tmp_path)
    assert CliRunner().invoke(app, ["maintain", "--data-dir", str(tmp_path)]).exit_code == 0
    archive = FolderArchive(tmp_path / "archive")
    old = sorted(archive.files())[0]
    assert old.relative_to(archive.root).parts[0] == "days"
    date = old.parent.name.removeprefix("date=")
    legacy = archive.root / legacy_day_key(date)
    legacy.parent.mkdir(parents=True, exist_ok=True)
    old.rename(legacy)
    late = [r for r in data.readings if format_ts(r.ts_ms)[:10] == date][:5]
    archive.put_readings("shardId-000000000000-late", late)
    every = sorted((r.device_id, r.ts_ms) for batch in archive.read_all(print) for r in batch)
    assert len(set(every)) == len(data.readings)
    count = CliRunner().invoke(app, ["sql", "SELECT count(*) FROM readings", "--data-dir", str(tmp_path)])
    assert f"│ {len(data.readings)} " in count.stdout, count.stdout

    result = CliRunner().invoke(app, ["maintain", "--data-dir", str(tmp_path)])

    assert "2 file(s) merged into 1 daily file(s)" in result.output, result.output
    assert not legacy.exists() and not list(legacy.parent.iterdir())
    moved = decode_file(DAY_FILE, (archive.root / day_key(date)).read_bytes()).readings
    assert sorted((r.device_id, r.ts_ms) for r in moved) == sorted(
        (r.device_id, r.ts_ms) for r in data.readings if format_ts(r.ts_ms)[:10] == date)
