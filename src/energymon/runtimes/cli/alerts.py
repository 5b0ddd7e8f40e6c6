"""``energymon alerts list|history`` (and ``alerts test``, registered by the channels' module below).

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
    from energymon.application.alerts import AlertEvaluator
    from energymon.ports import AlertOutbox

__all__ = ["alerts_app"]

alerts_app = typer.Typer(help="Consumption alerts: rules with their state, history, test deliveries.",
                         no_args_is_help=True)


def _evaluator(config: Path | None, data_dir: Path | None, aws_table: str | None = None,
               aws_bucket: str | None = None) -> "tuple[AlertOutbox, AlertEvaluator]":
    """The configured rules over the alert state and the store (read only: nothing is evaluated).

    Locally: the data directory's alerts.db and store, the rules of the config file. A deployed stack
    (``aws_table``): its table's ``ALERT#`` items and readings, the rules of its own settings document.
    """
    from energymon.processing.compose import build_alert_evaluator

    if aws_table or aws_bucket:
        return _aws_evaluator(aws_table, aws_bucket)
    from energymon.adapters.local.alerts import SqliteAlerts
    from energymon.adapters.local.store import SqliteStore

    settings = settings_or_exit(config, data_dir=data_dir)
    if not (settings.data_dir / "store.db").exists():
        err.print(f"[red]error:[/red] no store in {settings.data_dir} (run `energymon run` first, or pass --data-dir)")
        raise typer.Exit(2)
    alerts = SqliteAlerts(settings.data_dir / "alerts.db")
    store = SqliteStore(settings.data_dir / "store.db")
    return alerts, build_alert_evaluator(settings.shared_settings(), alerts, store)


def _aws_evaluator(aws_table: str | None, aws_bucket: str | None) -> "tuple[AlertOutbox, AlertEvaluator]":
    from energymon.adapters.aws.dynamodb_alerts import DynamoDBAlerts
    from energymon.processing.compose import build_alert_evaluator
    from energymon.runtimes.aws_read import open_aws_read

    if not aws_table:
        raise typer.BadParameter("pass the deployed stack's table (--aws-table TABLE)", param_hint="--aws-table")
    if not aws_bucket:
        raise typer.BadParameter("a deployed stack's alert rules are in its settings document, in the archive "
                                 "bucket: pass --aws-bucket BUCKET", param_hint="--aws-bucket")
    adapters = open_aws_read(aws_table, aws_bucket)  # an AwsReadError is one line, exit 1 (cli.main)
    shared = adapters.shared
    if shared is None:
        err.print(f"[red]error:[/red] s3://{aws_bucket}/config/settings.json does not exist: is {aws_bucket!r} "
                  "the stack's archive bucket (Terraform output archive_bucket_name)?")
        raise typer.Exit(1)
    state = DynamoDBAlerts(aws_table, client=adapters.store.client)
    return state, build_alert_evaluator(shared, state, adapters.store)


@alerts_app.command("list")
def alerts_list(config: ConfigOption = None, data_dir: DataDirOption = None, aws_table: AwsTableOption = None,
                aws_bucket: AwsBucketOption = None) -> None:
    """Every rule on every device it applies to, with its current state; notifications not yet delivered."""
    from energymon.application.alerts import incident_view

    outbox, evaluator = _evaluator(config, data_dir, aws_table, aws_bucket)
    if not evaluator.rules:
        console.print("energymon: no alert rules configured (add [[alerts.rules]] to the config file)")
        return
    table = Table(title="alert rules")
    for column in ("rule", "kind", "device", "state", "since", "value", "threshold", "channels"):
        table.add_column(column)
    for status in evaluator.statuses():
        view = incident_view(status, evaluator.zones(status.device_id))
        state = str(view["state"]) + (" (flapping)" if view["flapping"] else "")
        colour = {"firing": "red", "pending": "yellow", "no data yet": "dim"}.get(str(view["state"]))
        table.add_row(status.rule.name, status.rule.kind, status.device_id,
                      f"[{colour}]{state}[/{colour}]" if colour else state,
                      str(view["started_at"] or "") if view["state"] == "firing" else "",
                      _number(view["value"], status.rule.unit), _number(view["threshold"], status.rule.unit),
                      ", ".join(status.rule.channels) or "-")
    console.print(table)
    pending = outbox.pending()
    failing = [i for i in pending if i.last_error]
    console.print(f"outbox: {len(pending)} notification(s) waiting for delivery, {len(failing)} failing")
    for item in failing:
        console.print(f"  [red]failing[/red] {item.channel}: {item.key} after {item.attempts} attempt(s): "
                      f"{item.last_error}", soft_wrap=True)


@alerts_app.command("history")
def alerts_history(
    device: Annotated[str | None, typer.Option("--device", "-d", help="Only this device")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first")] = 50,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    aws_table: AwsTableOption = None,
    aws_bucket: AwsBucketOption = None,
) -> None:
    """The notifications alerts sent (firing, resolved, flapping), newest first."""
    _, evaluator = _evaluator(config, data_dir, aws_table, aws_bucket)
    known = {s.device_id for s in evaluator.store.devices()}
    if device is not None and device not in known:
        err.print(f"[red]error:[/red] unknown device {device!r} (known: {', '.join(sorted(known)) or 'none yet'})")
        raise typer.Exit(2)
    events = evaluator.state.history(device, limit)
    if not events:
        console.print("energymon: no alert notifications yet" + (f" for {device}" if device else ""))
        return
    table = Table(title=f"alert history{f' of {device}' if device else ''}")
    for column in ("when", "rule", "device", "state", "started", "duration", "message"):
        table.add_column(column)
    for event in events:
        n = event.notification
        tz = evaluator.zones(n.device_id)
        table.add_row(_local(event.at_ms, tz), n.rule, n.device_id, n.state, _local(n.started_at_ms, tz),
                      "" if n.duration_s is None else f"{n.duration_s:g} s", n.message)
    console.print(table)


def _local(ms: int, tz_name: str) -> str:
    from energymon.domain.timebuckets import zone

    return datetime.fromtimestamp(ms / 1000, zone(tz_name)).isoformat(timespec="seconds")


def _number(value: object, unit: str) -> str:
    return "" if value is None else f"{value:g} {unit}"
