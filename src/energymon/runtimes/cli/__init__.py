"""The ``energymon`` command: parse input, call the core, format output — nothing more.

One module per command or command group; :data:`app` lists them here, in the order ``--help`` shows them.
"""

from __future__ import annotations

import sqlite3
import sys

import typer

from energymon.errors import EnergymonError
from energymon.runtimes.cli import alerts_test, archive, aws
from energymon.runtimes.cli.alerts import alerts_app
from energymon.runtimes.cli.common import err
from energymon.runtimes.cli.cost import cost_estimate
from energymon.runtimes.cli.dead_letters import dead_letters_app
from energymon.runtimes.cli.decode import decode
from energymon.runtimes.cli.device import certs, device_app
from energymon.runtimes.cli.query import query
from energymon.runtimes.cli.run import run, serve

__all__ = ["app", "main"]

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Real-time energy monitoring for your home.")
app.command()(run)
app.command()(query)
app.add_typer(dead_letters_app, name="dead-letters")
app.command()(serve)
app.add_typer(device_app, name="device")
app.command()(certs)
aws.register(app, device_app)  # `package-lambda` and `device provision`
app.command("cost-estimate")(cost_estimate)
archive.register(app)  # `maintain`, `sql`, `export`, `replay`
app.add_typer(alerts_app, name="alerts")
alerts_test.register(app)  # `alerts test <channel>`, on the `alerts` group (after it is added)
app.command()(decode)


def main() -> None:
    # The safety net: an error energymon raises on purpose, or one of the file system, is a message, not a
    # traceback (the commands handle the ones they expect more precisely).
    try:
        app()
    except (EnergymonError, OSError, sqlite3.Error) as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        sys.exit(1)
