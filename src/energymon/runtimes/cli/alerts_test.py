"""``energymon alerts test <channel>``: send a test notification through one configured channel, now.

It bypasses the outbox and quiet hours on purpose (a person is waiting for the answer) and says in one line
whether the channel took it (exit 0) or why not (exit 1). A bad or missing configuration is exit 2.

No ``from __future__ import annotations``: Typer reads the options' annotations at run time.
"""

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from energymon.adapters.notify import build_channel
from energymon.adapters.notify.config import ChannelSettings
from energymon.config import load_settings
from energymon.domain.alerts.notification import Notification
from energymon.errors import ConfigError, DeliveryError
from energymon.runtimes.cli.common import ConfigOption, console, err

__all__ = ["alerts_test", "register", "test_notification"]


def test_notification(channel: str, now_ms: int | None = None) -> Notification:
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return Notification(
        rule="energymon-test", kind="test", device_id="energymon", state="test", started_at_ms=now_ms,
        message=f"Test notification from energymon: if you read this, channel {channel!r} works.",
    )


def channels_from_file(config: Path | None) -> list[ChannelSettings]:
    """The ``[[alerts.channels]]`` of the settings (file, environment), validated (ConfigError names the bad key)."""
    if config is not None and not config.is_file():
        raise ConfigError(f"config file {config} does not exist")
    return load_settings(config).alerts.channel_models()


def alerts_test(
    channel: Annotated[str, typer.Argument(help="The name of one channel in the alerts.channels list of --config")],
    config: ConfigOption = None,
) -> None:
    """Send a test notification through one channel now and say whether it was delivered."""
    try:
        configured = channels_from_file(config)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    by_name = {c.name: c for c in configured}
    if channel not in by_name:
        where = f"in {config}" if config else "(no --config given)"
        known = ", ".join(sorted(by_name)) if by_name else "none"
        err.print(f"[red]error:[/red] no channel named {escape(repr(channel))} {escape(where)}; "
                  f"configured channels: {escape(known)}", soft_wrap=True)
        raise typer.Exit(2)
    settings = by_name[channel]
    sender = build_channel(settings)
    label = f"{channel} ({settings.kind} {sender.target()})"
    try:
        sender.send(test_notification(channel).body())
    except DeliveryError as exc:
        err.print(f"[red]not delivered[/red] via {escape(label)}: {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
    console.print(f"[green]delivered[/green] via {escape(label)}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``test`` to the ``alerts`` group (the one ``alerts list|history`` live in), creating it if absent.

    Call it after the ``alerts`` group is added to ``app``.
    """
    group = next((g.typer_instance for g in app.registered_groups if g.name == "alerts"), None)
    if group is None:
        group = typer.Typer(help="Consumption alerts: rules, incidents and the channels that deliver them.",
                            no_args_is_help=True)
        app.add_typer(group, name="alerts")
    group.command("test")(alerts_test)
