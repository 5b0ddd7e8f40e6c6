"""``energymon maintain``, ``sql``, ``export`` and ``replay``: the data directory's retention, compaction,
archive queries and rebuilds.

No ``from __future__ import annotations``: Typer reads the options' annotations at run time.
"""

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from energymon.runtimes.cli.common import ConfigOption, DataDirOption, console, err, settings_or_exit

if TYPE_CHECKING:
    import duckdb

    from energymon.adapters.columnar import ArchiveProblem
    from energymon.adapters.local.archive import FolderArchive
    from energymon.adapters.local.store import SqliteStore
    from energymon.config import Settings

__all__ = ["export", "maintain", "register", "replay", "sql"]


class ExportFormat(StrEnum):
    parquet = "parquet"
    csv = "csv"


def _problem(p: "ArchiveProblem") -> None:
    err.print(f"[yellow]archive:[/yellow] {p.line()}", soft_wrap=True)


def _existing(config: Path | None, data_dir: Path | None) -> "tuple[Settings, SqliteStore, FolderArchive]":
    from energymon.adapters.local.archive import FolderArchive
    from energymon.adapters.local.store import SqliteStore

    settings = settings_or_exit(config, data_dir=data_dir)
    if not (settings.data_dir / "store.db").exists():
        err.print(f"[red]error:[/red] no store in {settings.data_dir} (run `energymon run` first, or pass --data-dir)")
        raise typer.Exit(2)
    return settings, SqliteStore(settings.data_dir / "store.db"), FolderArchive(settings.data_dir / "archive")


def maintain(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Apply retention and compaction now: purge raw readings past raw_retention_days, compact store and archive."""
    from energymon.adapters.local.maintenance import maintain as run_maintenance

    settings, store, archive = _existing(config, data_dir)
    report = run_maintenance(store, archive, settings.raw_retention_days, on_problem=_problem)
    console.print(f"energymon maintain ({settings.data_dir}, raw_retention_days = {settings.raw_retention_days:g}):")
    for line in report.lines():
        console.print(f"  {line}", soft_wrap=True)


def _connection(config: Path | None, data_dir: Path | None) -> "duckdb.DuckDBPyConnection":
    from energymon.adapters.local.archive_sql import archive_connection

    _, store, archive = _existing(config, data_dir)
    return archive_connection(store, archive, _problem)


def sql(
    query: Annotated[str, typer.Argument(help="SQL over the views readings, minutes and days (DuckDB dialect)")],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Run SQL over the local archive (view readings) and rollups (views minutes, days), read-only."""
    import duckdb
    from rich.table import Table

    from energymon.adapters.local.archive_sql import run_query

    con = _connection(config, data_dir)
    try:
        result = run_query(con, query)
    except duckdb.Error as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None
    table = Table()
    for column in result.columns:
        table.add_column(column)
    for row in result.rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)
    console.print(f"{len(result.rows)} row(s)")


def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write")],
    start: Annotated[str, typer.Option(help="First UTC date or time included (ISO-8601)")],
    end: Annotated[str, typer.Option(help="UTC date or time excluded (ISO-8601)")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="parquet (zstd) or csv")] = ExportFormat.parquet,
    device: Annotated[str | None, typer.Option(help="Only this device")] = None,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Write the archived readings of [start, end) to a Parquet or CSV file."""
    import duckdb
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    con = _connection(config, data_dir)
    where = "ts >= CAST(? AS TIMESTAMPTZ) AND ts < CAST(? AS TIMESTAMPTZ)"
    params: list[str] = [_utc(start), _utc(end)]
    if device is not None:
        where += " AND device_id = ?"
        params.append(device)
    try:
        table = con.sql(f"SELECT * EXCLUDE (date) FROM readings WHERE {where} ORDER BY device_id, ts",
                        params=params).to_arrow_table()
    except duckdb.Error as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None
    try:
        if fmt is ExportFormat.parquet:
            pq.write_table(table, output, compression="zstd")
        else:
            pacsv.write_csv(table, output)
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot write {output}: {exc.strerror or exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    console.print(f"energymon: wrote {table.num_rows} reading(s) to {output} ({fmt.value})", soft_wrap=True)


def _utc(text: str) -> str:
    """An ISO date or time as DuckDB reads it, UTC unless it says otherwise."""
    from datetime import UTC, datetime

    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        err.print(f"[red]error:[/red] {text!r} is not an ISO-8601 date or time (e.g. 2026-11-01 or "
                  "2026-11-01T06:00:00Z)")
        raise typer.Exit(2) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).isoformat()


def replay(
    into: Annotated[Path, typer.Option("--into", help="Empty data directory to rebuild the store in")],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Rebuild a store from the archive (disaster recovery, or new rollups) in another data directory."""
    from energymon.adapters.local.archive import FolderArchive
    from energymon.adapters.local.replay import replay_archive
    from energymon.runtimes.local import LocalAdapters

    settings = settings_or_exit(config, data_dir=data_dir)
    source = settings.data_dir / "archive"
    if not source.is_dir():
        err.print(f"[red]error:[/red] no archive in {settings.data_dir} (pass --data-dir)")
        raise typer.Exit(2)
    if into.exists() and any(into.iterdir()):
        err.print(f"[red]error:[/red] {into} is not empty: replay builds a new store in an empty directory")
        raise typer.Exit(2)
    target = LocalAdapters(settings.model_copy(update={"data_dir": into}))
    report = replay_archive(FolderArchive(source), target.processor, _problem)
    console.print(f"energymon: replayed {report.readings} reading(s) from {report.files} file(s) into {into}"
                  + (f"; skipped {len(report.skipped)} damaged file(s)" if report.skipped else ""), soft_wrap=True)
    if report.failed_records:
        err.print(f"[red]error:[/red] {report.failed_records} record(s) could not be stored; run replay again")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command()(maintain)
    app.command()(sql)
    app.command()(export)
    app.command()(replay)
