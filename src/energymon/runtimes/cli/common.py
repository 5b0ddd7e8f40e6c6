"""What every ``energymon`` command shares: the consoles, the common options, settings."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from energymon.config import load_settings
from energymon.errors import ConfigError

if TYPE_CHECKING:
    from energymon.config import Settings

__all__ = ["AwsBucketOption", "AwsTableOption", "ConfigOption", "DataDirOption", "OutputFormat", "console", "err",
           "settings_or_exit"]

console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file")]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Data directory [default: ./energymon-data]")]
AwsTableOption = Annotated[str | None, typer.Option(
    "--aws-table", help="Read the deployed AWS stack's DynamoDB table instead of the data directory "
                        "(boto3's credentials and region; AWS_ENDPOINT_URL for an emulator)")]
AwsBucketOption = Annotated[str | None, typer.Option(
    "--aws-bucket", help="The deployed stack's archive bucket (dead letters under rejected/)")]


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def settings_or_exit(config: Path | None, **overrides: Any) -> Settings:
    """The settings, or the problem on stderr and exit 2."""
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
