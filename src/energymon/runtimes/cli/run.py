"""``energymon run`` (the whole local pipeline with a live status) and ``energymon serve`` (API and dashboard only).

No ``from __future__ import annotations`` in the command modules: Typer reads the options' annotations at run time.
"""

import signal
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from energymon.errors import EnergymonError
from energymon.logs import setup_logging
from energymon.runtimes.cli.common import (
    AwsBucketOption,
    AwsTableOption,
    ConfigOption,
    DataDirOption,
    console,
    err,
    settings_or_exit,
)

__all__ = ["run", "serve"]

Opt = typer.Option


def run(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    broker: Annotated[str | None, Opt(help="Use this broker (mqtt://host:port) instead of the embedded one")] = None,
    port: Annotated[int | None, Opt(help="Embedded broker port (default 1883; a free one if taken)")] = None,
    simulate: Annotated[int | None, Opt(help="Simulated apartments to run (0 for none)")] = None,
    publish_interval: Annotated[float | None, Opt(help="Seconds of samples per simulated message")] = None,
    batching_window: Annotated[float | None, Opt(help="Poller batching window in seconds (0–300)")] = None,
    source: Annotated[str | None, Opt(help="Broker payload: canonical, tasmota, shelly, shelly-gen1, plain")] = None,
    duration: Annotated[float | None, Opt(help="Stop by itself after this many seconds")] = None,
    live: Annotated[bool | None, Opt(help="Live table (default: on when the terminal is interactive)")] = None,
    web_host: Annotated[str | None, Opt(help="Dashboard/API address (default 127.0.0.1)")] = None,
    web_port: Annotated[int | None, Opt(help="Dashboard/API port (default 8080; a free one if taken)")] = None,
    secure: Annotated[bool | None, Opt(
        help="Embedded broker on mqtts:// requiring client certificates, with the IoT policy's topic rules")] = None,
    certs_dir: Annotated[Path | None, Opt(
        help="Secure mode's CA and certificates, made if missing (default: <data-dir>/certs)")] = None,
    ha_discovery: Annotated[bool | None, Opt(
        help="Publish Home Assistant MQTT discovery on the broker ([home_assistant] discovery in the config)")] = None,
) -> None:
    """Run the whole local pipeline until Ctrl-C: broker, bridge, stream, poller, processor, store, dashboard."""
    from energymon.runtimes.local import LocalRuntime

    settings = settings_or_exit(
        config, data_dir=data_dir, broker_url=broker, broker_port=port, simulate=simulate,
        publish_interval_s=publish_interval, batching_window_s=batching_window, source=source,
        web_host=web_host, web_port=web_port, secure=secure, certs_dir=certs_dir,
        home_assistant=None if ha_discovery is None else {"discovery": ha_discovery},
    )
    setup_logging()
    # Before anything starts: a Ctrl-C or SIGTERM that arrives while the pipeline is starting asks for the same
    # clean stop as one that arrives later, instead of leaving a half-started runtime behind.
    stop_requested = _stop_on_signals()
    try:
        runtime = LocalRuntime(settings)
        runtime.start()
    except (OSError, sqlite3.Error, EnergymonError, RuntimeError) as exc:
        err.print(f"[red]error:[/red] could not start: {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    _print_started(runtime, settings.data_dir)
    deadline = time.monotonic() + duration if duration else None

    def running() -> bool:
        return not stop_requested() and not runtime.failures() and (deadline is None or time.monotonic() < deadline)

    try:
        _show_status(runtime, running, interactive=console.is_terminal if live is None else live)
    except KeyboardInterrupt:
        pass
    _stop_and_report(runtime)


def _stop_on_signals() -> Callable[[], bool]:
    """From now on SIGTERM or a first Ctrl-C asks for a clean stop; the answer says whether one was asked for.

    A second Ctrl-C interrupts as usual (exit 130), for when the clean stop itself hangs.
    """
    asked: list[bool] = []

    def ask(signum: int, _frame: Any) -> None:
        asked.append(True)
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    signal.signal(signal.SIGTERM, ask)
    signal.signal(signal.SIGINT, ask)
    return lambda: bool(asked)


def _print_started(runtime: Any, data_dir: Path) -> None:
    console.print(f"energymon: {runtime.note}")
    if runtime.secure:
        files = runtime.secure
        console.print(
            f"energymon: secure mode — {'made a local CA and certificates' if files.made else 'certificates'} in "
            f"{files.certs_dir.resolve()} (CA {files.ca_file.name}; a device connects with <id>.crt + <id>.key "
            "and client id = <id>; `energymon certs --dir ... --device <id>` makes more)",
            soft_wrap=True,
        )
    if runtime.web:
        if runtime.web.note:
            console.print(f"energymon: {runtime.web.note}", soft_wrap=True)
        console.print(f"energymon: dashboard at {runtime.web.url}  (API docs {runtime.web.url}docs)", soft_wrap=True)
    console.print(f"energymon: data in {data_dir.resolve()}; Ctrl-C stops cleanly")


def _show_status(runtime: Any, running: Callable[[], bool], *, interactive: bool) -> None:
    """A live table in a terminal; otherwise a status block every 10 s, while ``running()``."""
    if interactive:
        with Live(_status_table(runtime), console=console, refresh_per_second=1) as view:
            while running():
                time.sleep(1)
                view.update(_status_table(runtime))
        return
    next_line = 0.0
    while running():
        if time.monotonic() >= next_line:
            _print_status_lines(runtime)
            next_line = time.monotonic() + 10
        time.sleep(0.2)


def _stop_and_report(runtime: Any) -> None:
    """Stop, then say what could not be stored and where it still is; exit 1 unless all went well."""
    failed = runtime.failures()
    for component in failed:
        err.print(f"[red]error:[/red] {component.name} has stopped ({component.reason}); "
                  "energymon stops rather than run without it", soft_wrap=True)
    console.print("energymon: stopping — storing everything already received…")
    report = runtime.stop()
    _print_status_lines(runtime)
    console.print(f"energymon: stopped; stream lag {_safe(runtime.lag)}, "
                  f"dead letters {_safe(runtime.adapters.dead_letters.count)}")
    if report.left_with_broker:
        err.print(f"[yellow]warning:[/yellow] {report.left_with_broker} received message(s) could not be stored; "
                  f"they stay with the broker at {runtime.address.url if runtime.address else 'the broker'} "
                  "(persistent session) and are delivered again on the next start", soft_wrap=True)
    if not report.drained:
        err.print(f"[yellow]warning:[/yellow] some records could not be processed; they stay in the stream "
                  f"({report.stream_path}) and are processed on the next start", soft_wrap=True)
    if failed or not report.clean:
        raise typer.Exit(1)


def _safe(read: Any) -> str:
    """A figure for the last status line; on a broken disk it may not be readable any more."""
    try:
        return str(read())
    except (OSError, sqlite3.Error) as exc:
        return f"unknown ({exc})"


def _status_table(runtime: Any) -> Table:
    table = Table(title=f"energymon — {runtime.note}", caption=_footer(runtime))
    for column in ("device", "power now (W)", "today (kWh)", "readings", "last seen"):
        table.add_column(column, justify="left" if column == "device" else "right")
    for s in runtime.status():
        table.add_row(
            s.device_id,
            f"{s.power_w:,.0f}" if s.power_w is not None else "–",
            f"{s.today_kwh:.3f}",
            f"{s.readings:,}",
            f"{s.last_seen_s:.0f} s ago" if s.last_seen_s is not None else "never",
        )
    return table


def _footer(runtime: Any) -> str:
    footer = f"stream lag {_safe(runtime.lag)} records · dead letters {_safe(runtime.adapters.dead_letters.count)}"
    troubled = [c for c in runtime.health.components() if c.status != "ok"]
    if troubled:
        footer += " · " + "; ".join(f"{c.name} {c.status}: {c.reason}" for c in troubled)
    return footer


def _print_status_lines(runtime: Any) -> None:
    try:
        statuses = runtime.status()
    except (OSError, sqlite3.Error) as exc:
        console.print(f"status unavailable: {exc}")
        statuses = []
    for s in statuses:
        power = f"{s.power_w:.0f} W" if s.power_w is not None else "–"
        console.print(f"{s.device_id}: power {power}, today {s.today_kwh:.3f} kWh, {s.readings} readings")
    console.print(_footer(runtime), soft_wrap=True)


def serve(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    host: Annotated[str | None, Opt(help="Address (default 127.0.0.1; others need an API token)")] = None,
    port: Annotated[int | None, Opt(help="Port (default 8080; a free one if taken)")] = None,
    aws_table: AwsTableOption = None,
    aws_bucket: AwsBucketOption = None,
) -> None:
    """Serve the HTTP API and dashboard over an existing data directory, or over a deployed AWS stack
    (``--aws-table``), without running the pipeline."""
    from energymon.runtimes.local import LocalAdapters, start_web

    settings = settings_or_exit(config, data_dir=data_dir, web_host=host, web_port=port)
    setup_logging()
    if aws_table:
        from energymon.runtimes.aws_read import open_aws_read

        aws = open_aws_read(aws_table, aws_bucket, settings)  # an AwsReadError is one line, exit 1 (cli.main)
    elif aws_bucket:
        raise typer.BadParameter("--aws-bucket needs --aws-table (the deployed stack's table)",
                                 param_hint="--aws-bucket")
    try:
        if aws_table:
            from energymon.api import WebServer

            web = WebServer(aws.app(api_token=settings.api_token), settings.web_host, settings.web_port,
                            api_token=settings.api_token)
            web.start()
        else:
            web = start_web(settings, LocalAdapters(settings))
    except (OSError, sqlite3.Error, EnergymonError, RuntimeError) as exc:
        err.print(f"[red]error:[/red] could not start: {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    if web.note:
        console.print(f"energymon: {web.note}", soft_wrap=True)
    console.print(f"energymon: dashboard at {web.url}  (API docs {web.url}docs); Ctrl-C stops", soft_wrap=True)
    stop_requested = _stop_on_signals()
    try:
        while not stop_requested():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    web.stop()
