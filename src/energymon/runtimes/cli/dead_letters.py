"""``energymon dead-letters [reprocess]``: what was rejected or given up on, and putting the latter back through.

No ``from __future__ import annotations``: Typer reads the options' annotations at run time.
"""

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from energymon.runtimes.cli.common import (
    AwsBucketOption,
    AwsTableOption,
    ConfigOption,
    DataDirOption,
    console,
    err,
    settings_or_exit,
)

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
    aws_table: AwsTableOption = None,
    aws_bucket: AwsBucketOption = None,
) -> None:
    """What was rejected or given up on, and why (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    if aws_bucket or aws_table:
        _aws_dead_letters(limit, aws_table, aws_bucket)
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


def _aws_dead_letters(limit: int, aws_table: str | None, aws_bucket: str | None) -> None:
    """The deployed stack's dead letters: the archive bucket's ``rejected/`` objects (what the handler refused)."""
    from energymon.runtimes.aws_read import explained, open_aws_read

    if not aws_bucket:
        raise typer.BadParameter("the dead letters of a deployed stack are in its archive bucket: "
                                 "pass --aws-bucket BUCKET", param_hint="--aws-bucket")
    if not aws_table:
        raise typer.BadParameter("pass the deployed stack's table too (--aws-table TABLE)", param_hint="--aws-table")
    adapters = open_aws_read(aws_table, aws_bucket)
    letters = adapters.dead_letters
    assert letters is not None  # a bucket was given
    with explained(f"S3 bucket {aws_bucket!r}", adapters.region):
        table = Table(title=f"dead letters in s3://{aws_bucket}/rejected/ ({letters.count()} in all; "
                            "batches the handler gave up on are in the on-failure queue)")
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
