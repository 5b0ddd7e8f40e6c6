"""``energymon dead-letters [reprocess]``: what was rejected or given up on, and putting the latter back through.

No ``from __future__ import annotations``: Typer reads the options' annotations at run time.
"""

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from energymon.runtimes.cli.common import ConfigOption, DataDirOption, console, err, settings_or_exit

if TYPE_CHECKING:
    from energymon.adapters.local.deadletters import SqliteDeadLetters
    from energymon.config import Settings

__all__ = ["dead_letters_app"]

dead_letters_app = typer.Typer(help="What was rejected or given up on, and why; reprocess what was given up on.")


def _dead_letter_store(config: Path | None, data_dir: Path | None) -> "tuple[Settings, SqliteDeadLetters]":
    from energymon.adapters.local.deadletters import SqliteDeadLetters

    settings = settings_or_exit(config, data_dir=data_dir)
    path = settings.data_dir / "deadletters.db"
    if not path.exists():
        err.print(f"[red]error:[/red] no dead-letter store in {settings.data_dir} "
                  "(run `energymon run` first, or pass --data-dir)")
        raise typer.Exit(2)
    return settings, SqliteDeadLetters(path, max_bytes=int(settings.dead_letter_max_mb * 1024 * 1024),
                                       max_age_s=settings.dead_letter_max_age_days * 86_400)


@dead_letters_app.callback(invoke_without_command=True)
def dead_letters(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first")] = 20,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """What was rejected or given up on, and why (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    _, letters = _dead_letter_store(config, data_dir)
    waiting = len(letters.given_up())
    title = f"dead letters ({letters.count()} in all, {waiting} given up and not yet reprocessed"
    title += f", {letters.trimmed()} old rejections trimmed)"
    table = Table(title=title)
    for column in ("when", "stage", "code", "reason", "source"):
        table.add_column(column)
    for dl in letters.recent(limit):
        when = datetime.fromtimestamp(dl.at_s).isoformat(timespec="seconds")
        table.add_row(when, dl.stage, dl.code, dl.reason, dl.source)
    console.print(table)


@dead_letters_app.command("reprocess")
def dead_letters_reprocess(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Put the records the poller gave up on back through the handler (safe to repeat: nothing counts twice)."""
    from energymon.adapters.local.reprocess import reprocess_given_up
    from energymon.runtimes.local import LocalAdapters

    settings, _ = _dead_letter_store(config, data_dir)
    adapters = LocalAdapters(settings)
    report = reprocess_given_up(adapters.dead_letters, adapters.processor.handle)
    if not report.records:
        console.print("energymon: nothing to reprocess (no given-up records waiting)")
        return
    console.print(f"energymon: reprocessed {report.records} record(s) in {report.batches} batch(es): "
                  f"{report.stored} done, {report.failed} failed again")
    for line in report.errors:
        err.print(f"[yellow]failed:[/yellow] {line}", soft_wrap=True)
    if report.failed:
        raise typer.Exit(1)
