"""GIVEN a data directory written by the processor, WHEN a user runs `energymon sql`, `export` or `replay`,
THEN SQL sees the archive and the rollups, a bad query gets DuckDB's error and changes nothing, an export
holds exactly the range asked for, and a replay rebuilds the very same store — skipping a damaged file by
name."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from archive_data import DAY, ZONE, History, history
from typer.testing import CliRunner

from energymon.adapters.columnar import DAY_FILE
from energymon.adapters.local.store import SqliteStore
from energymon.domain.reading import format_ts
from energymon.runtimes.cli import app

if TYPE_CHECKING:
    from pathlib import Path

DEVICES = ("apt-1", "apt-2")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> History:
    root = tmp_path_factory.mktemp("data")
    made = history(root)
    # today's files stay per batch, the rest become day files: the views must see both
    assert CliRunner().invoke(app, ["maintain", "--data-dir", str(root)]).exit_code == 0
    return made


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


def test_sql_sees_every_archived_reading_and_the_rollups(data: History) -> None:
    code, out, _ = _cli("sql", "SELECT device_id, count(*) AS n, sum(energy_wh) FROM readings GROUP BY 1 ORDER BY 1",
                        "--data-dir", str(data.root))
    assert code == 0
    for device in DEVICES:
        mine = [r for r in data.readings if r.device_id == device]
        assert f"│ {device}     │ {len(mine)}" in out
    code, out, _ = _cli("sql", "SELECT sum(import_mwh) FROM minutes WHERE device = 'apt-2'", "--data-dir",
                        str(data.root))
    stored = sum(round(p.import_kwh * 1e6) for p in data.store.periods("apt-2", "day", 0, 2**42, ZONE))
    assert code == 0 and f"│ {stored}" in out
    code, out, _ = _cli("sql", "SELECT count(*) FROM days", "--data-dir", str(data.root))
    assert code == 0 and "1 row(s)" in out


@pytest.mark.parametrize("query, says", [
    ("SELEC * FROM readings", "Parser Error: syntax error at or near \"SELEC\""),
    ("SELECT nope FROM readings", "Binder Error"),
    ("COPY readings TO 'stolen.csv'", "file system operations are disabled"),
    ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
    ("ATTACH 'store.db' AS s", "disabled"),
    ("SET enable_external_access = true", "configuration has been locked"),
])
def test_a_bad_query_prints_duckdbs_error_and_changes_nothing(data: History, query: str, says: str) -> None:
    before = _tree_digest(data.root)
    code, out, err = _cli("sql", query, "--data-dir", str(data.root))
    assert code == 2
    assert err.startswith("error: ") and says in err
    assert _tree_digest(data.root) == before


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_export_writes_exactly_the_range(data: History, tmp_path: Path, fmt: str) -> None:
    start_ms = min(r.ts_ms for r in data.readings if r.ts_ms > data.readings[-1].ts_ms - 2 * DAY) + 3_600_000
    end_ms = start_ms + DAY
    out = tmp_path / f"out.{fmt}"
    code, said, _ = _cli("export", "--format", fmt, "-o", str(out), "--start", format_ts(start_ms),
                         "--end", format_ts(end_ms), "--device", "apt-1", "--data-dir", str(data.root))
    wanted = [r for r in data.readings if r.device_id == "apt-1" and start_ms <= r.ts_ms < end_ms]
    assert code == 0 and f"wrote {len(wanted)} reading(s)" in said
    table = pq.read_table(out) if fmt == "parquet" else pacsv.read_csv(out)
    assert table.column("energy_wh").to_pylist() == [r.energy_wh for r in wanted]
    assert set(table.column("device_id").to_pylist()) == {"apt-1"}


def test_export_refuses_a_date_it_cannot_read(data: History, tmp_path: Path) -> None:
    code, _, err = _cli("export", "-o", str(tmp_path / "x.parquet"), "--start", "yesterday", "--end", "2030-01-01",
                        "--data-dir", str(data.root))
    assert code == 2 and "'yesterday' is not an ISO-8601 date" in err


def test_replay_rebuilds_the_same_store(data: History, tmp_path: Path) -> None:
    config = tmp_path / "energymon.toml"
    config.write_text(f'timezone = "{ZONE}"\n')  # the zone the original store was cut in
    code, out, _ = _cli("replay", "--into", str(tmp_path / "rebuilt"), "--data-dir", str(data.root),
                        "--config", str(config))
    assert code == 0, out
    assert f"replayed {len(data.readings)} reading(s)" in out
    rebuilt = SqliteStore(tmp_path / "rebuilt" / "store.db")
    for device in DEVICES:
        original = data.rollups(device)
        assert original["minute"]
        assert History(tmp_path / "rebuilt", rebuilt, []).rollups(device) == original
    # the rebuilt store holds every raw reading again, the purged ones included
    assert rebuilt.readings_count() == len(data.readings)


def test_replay_skips_a_damaged_file_by_name_with_its_count(data: History, tmp_path: Path) -> None:
    source = tmp_path / "copy"
    (source / "archive").mkdir(parents=True)
    for path in (data.root / "archive").rglob("*"):
        if path.is_file():
            target = source / "archive" / path.relative_to(data.root / "archive")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    day_files = sorted((source / "archive" / "days").glob(f"*/{DAY_FILE}"))
    truncated, garbled = day_files[0], day_files[1]
    truncated.write_bytes(truncated.read_bytes()[:300])
    body = bytearray(garbled.read_bytes())
    body[100:400] = b"\xff" * 300  # the data pages, not the footer: the row count is still readable
    garbled.write_bytes(bytes(body))
    held = pq.ParquetFile(garbled).metadata.num_rows

    code, out, err = _cli("replay", "--into", str(tmp_path / "rebuilt"), "--data-dir", str(source))

    assert code == 0, out + err
    assert f"{truncated.relative_to(source / 'archive')}: not a whole Parquet file" in err
    assert f"{garbled.relative_to(source / 'archive')}: cannot be read" in err
    assert f"it held {held} reading(s) — skipped" in err
    assert "skipped 2 damaged file(s)" in out
