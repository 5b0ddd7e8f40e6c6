"""``energymon maintain``, ``sql``, ``export`` and ``replay``: the data directory's retention, compaction,
archive queries and rebuilds.

No ``from __future__ import annotations``: Typer reads the options' annotations at run time.
"""

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from energymon.runtimes.cli.common import ConfigOption, DataDirOption, console, err, settings_or_exit

if TYPE_CHECKING:
    from energymon.adapters.local.archive import FolderArchive
    from energymon.adapters.local.store import SqliteStore
    from energymon.config import Settings

__all__ = ["maintain", "register"]


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
    report = run_maintenance(store, archive, settings.raw_retention_days,
                             on_problem=lambda p: err.print(f"[yellow]archive:[/yellow] {p.line()}", soft_wrap=True))
    console.print(f"energymon maintain ({settings.data_dir}, raw_retention_days = {settings.raw_retention_days:g}):")
    for line in report.lines():
        console.print(f"  {line}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(maintain)
