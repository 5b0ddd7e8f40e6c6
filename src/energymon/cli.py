"""The ``energymon`` command: parse input, call the core, format output — nothing more."""

from __future__ import annotations

import csv
import io
import logging
import signal
import sqlite3
import sys
import time
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from energymon.config import Settings, load_settings
from energymon.domain.timebuckets import zone
from energymon.errors import ConfigError, EnergymonError
from energymon.logs import setup_logging

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Real-time energy monitoring for your home.")
console = Console()
err = Console(stderr=True)

ConfigOption = Annotated[Path | None, typer.Option("--config", "-c", help="TOML settings file")]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Data directory [default: ./energymon-data]")]


class Resolution(StrEnum):
    minute = "minute"
    hour = "hour"
    day = "day"
    month = "month"


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _settings(config: Path | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


@app.command()
def run(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    broker: Annotated[
        str | None, typer.Option(help="Use this broker (mqtt://host:port) instead of the embedded one")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Embedded broker port (default 1883; a free one if taken)")] = None,
    simulate: Annotated[int | None, typer.Option(help="Simulated apartments to run (0 for none)")] = None,
    publish_interval: Annotated[float | None, typer.Option(help="Seconds of samples per simulated message")] = None,
    batching_window: Annotated[float | None, typer.Option(help="Poller batching window in seconds (0–300)")] = None,
    source: Annotated[str | None, typer.Option(help="Payload format on the broker: canonical, tasmota, shelly")] = None,
    duration: Annotated[float | None, typer.Option(help="Stop by itself after this many seconds")] = None,
    live: Annotated[bool | None, typer.Option(help="Live table (default: on when the terminal is interactive)")] = None,
    web_host: Annotated[str | None, typer.Option(help="Dashboard/API address (default 127.0.0.1)")] = None,
    web_port: Annotated[int | None, typer.Option(help="Dashboard/API port (default 8080; a free one if taken)")] = None,
    secure: Annotated[bool | None, typer.Option(
        help="Embedded broker on mqtts:// requiring client certificates, with the IoT policy's topic rules")] = None,
    certs_dir: Annotated[Path | None, typer.Option(
        help="Secure mode's CA and certificates, made if missing (default: <data-dir>/certs)")] = None,
) -> None:
    """Run the whole local pipeline until Ctrl-C: broker, bridge, stream, poller, processor, store, dashboard."""
    from energymon.runtimes.local import LocalRuntime

    settings = _settings(
        config, data_dir=data_dir, broker_url=broker, broker_port=port, simulate=simulate,
        publish_interval_s=publish_interval, batching_window_s=batching_window, source=source,
        web_host=web_host, web_port=web_port, secure=secure, certs_dir=certs_dir,
    )
    setup_logging()
    try:
        runtime = LocalRuntime(settings)
        runtime.start()
    except (OSError, sqlite3.Error, EnergymonError, RuntimeError) as exc:
        err.print(f"[red]error:[/red] could not start: {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
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
    console.print(f"energymon: data in {settings.data_dir.resolve()}; Ctrl-C stops cleanly")
    stopping = False

    def _request_stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _request_stop)
    interactive = console.is_terminal if live is None else live
    deadline = time.monotonic() + duration if duration else None

    def running() -> bool:
        return not stopping and not runtime.failures() and (deadline is None or time.monotonic() < deadline)

    try:
        if interactive:
            with Live(_status_table(runtime), console=console, refresh_per_second=1) as view:
                while running():
                    time.sleep(1)
                    view.update(_status_table(runtime))
        else:
            next_line = 0.0
            while running():
                if time.monotonic() >= next_line:
                    _print_status_lines(runtime)
                    next_line = time.monotonic() + 10
                time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    _stop_and_report(runtime)


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


def _parse_when(value: str, tz_name: str, option: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date or time (use YYYY-MM-DD or YYYY-MM-DDTHH:MM[±HH:MM])", param_hint=option
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone(tz_name))


@app.command()
def query(
    device: Annotated[str, typer.Option(help="Device id, e.g. apt-1")],
    from_: Annotated[str | None, typer.Option(
        "--from", help="Start (date or time; device's zone unless an offset is given) [default: today]")] = None,
    to: Annotated[str | None, typer.Option(help="End, exclusive [default: start + 1 day]")] = None,
    resolution: Annotated[Resolution, typer.Option(help="Period length")] = Resolution.hour,
    format_: Annotated[OutputFormat, typer.Option("--format", help="Output format")] = OutputFormat.table,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Consumption (kWh) and peak power per period, cut in the device's time zone."""
    from energymon.adapters.local.store import SqliteStore

    settings = _settings(config, data_dir=data_dir)
    store_path = settings.data_dir / "store.db"
    if not store_path.exists():
        err.print(f"[red]error:[/red] no data in {settings.data_dir} (run `energymon run` first, or pass --data-dir)")
        raise typer.Exit(2)
    store = SqliteStore(store_path)
    known = {d.device_id for d in store.devices()}
    if device not in known:
        listing = ", ".join(sorted(known)) or "none yet"
        raise typer.BadParameter(f"unknown device {device!r} (known: {listing})", param_hint="--device")
    tz_name = settings.device_timezones.get(device, settings.timezone)
    tz = zone(tz_name)
    start = _parse_when(from_, tz_name, "--from") if from_ else datetime.now(tz).replace(
        hour=0, minute=0, second=0, microsecond=0)
    end = _parse_when(to, tz_name, "--to") if to else start + timedelta(days=1)
    if end <= start:
        raise typer.BadParameter(
            f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})", param_hint="--to")
    from energymon.processing import ZoneResolver
    from energymon.query import QueryService

    service = QueryService(store, ZoneResolver(settings.timezone, dict(settings.device_timezones)),
                           settings.tariff_model())
    reports = service.consumption(device, resolution.value, int(start.timestamp() * 1000), int(end.timestamp() * 1000))
    currency = service.tariff.currency if service.tariff else None
    rows: list[dict[str, Any]] = [
        {"period": p.period, "import_kwh": round(p.import_kwh, 6), "export_kwh": round(p.export_kwh, 6),
         "peak_power_w": p.peak_power_w, "samples": p.samples, "gap_minutes": p.gap_minutes,
         "cost": None if p.cost is None else str(round(p.cost, 4))}
        for p in reports
    ]
    fields = ["period", "import_kwh", "export_kwh", "peak_power_w", "samples", "gap_minutes", "cost"]
    if format_ is OutputFormat.json:
        sys.stdout.write(orjson.dumps({"device": device, "timezone": tz_name, "resolution": resolution.value,
                                       "currency": currency, "periods": rows},
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
    elif format_ is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(buffer.getvalue())
    else:
        table = Table(title=f"{device} · {resolution.value} · {tz_name}")
        columns = ["period", "kWh", "export kWh", "peak W", "samples", "gap"]
        columns += [f"cost ({currency})"] if currency else []
        for column in columns:
            table.add_column(column, justify="left" if column == "period" else "right")
        for r in rows:
            peak = r["peak_power_w"]
            cells = [r["period"], f"{r['import_kwh']:.3f}", f"{r['export_kwh']:.3f}",
                     f"{peak:,.0f}" if peak is not None else "–", str(r["samples"]),
                     f"{r['gap_minutes']} min" if r["gap_minutes"] else ""]
            table.add_row(*cells, *([f"{float(r['cost'] or 0):.2f}"] if currency else []))
        total = f"total {sum(r['import_kwh'] for r in rows):.3f} kWh"
        if currency:
            total += f", {sum(float(r['cost'] or 0) for r in rows):.2f} {currency}"
        table.caption = total
        console.print(table)


dead_letters_app = typer.Typer(help="What was rejected or given up on, and why; reprocess what was given up on.")
app.add_typer(dead_letters_app, name="dead-letters")


def _dead_letter_store(config: Path | None, data_dir: Path | None) -> Any:
    from energymon.adapters.local.deadletters import SqliteDeadLetters

    settings = _settings(config, data_dir=data_dir)
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
    from energymon.runtimes.local import LocalAdapters
    from energymon.runtimes.reprocess import reprocess_given_up

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


@app.command()
def serve(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    host: Annotated[str | None, typer.Option(help="Address (default 127.0.0.1; others need an API token)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8080; a free one if taken)")] = None,
) -> None:
    """Serve the HTTP API and dashboard over an existing data directory (without running the pipeline)."""
    from energymon.runtimes.local import LocalAdapters, start_web

    settings = _settings(config, data_dir=data_dir, web_host=host, web_port=port)
    setup_logging()
    try:
        web = start_web(settings, LocalAdapters(settings))
    except (OSError, sqlite3.Error, EnergymonError, RuntimeError) as exc:
        err.print(f"[red]error:[/red] could not start: {exc}", soft_wrap=True)
        raise typer.Exit(1) from None
    if web.note:
        console.print(f"energymon: {web.note}", soft_wrap=True)
    console.print(f"energymon: dashboard at {web.url}  (API docs {web.url}docs); Ctrl-C stops", soft_wrap=True)
    stopping = False

    def _request_stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _request_stop)
    try:
        while not stopping:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    web.stop()


# --- the IoT box: `energymon device ...` (one sub-app; `device provision` may join it) and `energymon certs` ---
device_app = typer.Typer(no_args_is_help=True, help="The IoT box's device agent.")
app.add_typer(device_app, name="device")


@device_app.command("run")
def device_run(
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Agent TOML file (flat keys or an \\[agent] table)")] = None,
    device_id: Annotated[str | None, typer.Option("--device-id", help="Thing name, e.g. apt-1")] = None,
    source: Annotated[str | None, typer.Option(help="simulator, p1, tasmota or shelly")] = None,
    broker: Annotated[str | None, typer.Option(help="mqtts://<iot-endpoint>:8883 or any MQTT broker URL")] = None,
    ca_file: Annotated[Path | None, typer.Option(help="CA that signed the broker's certificate")] = None,
    cert_file: Annotated[Path | None, typer.Option(help="Device certificate")] = None,
    key_file: Annotated[Path | None, typer.Option(help="Device private key")] = None,
    mqtt_version: Annotated[str | None, typer.Option(help="5 (default; falls back to 3.1.1) or 3.1.1")] = None,
    batch_interval: Annotated[float | None, typer.Option(help="Seconds of samples per live message [10]")] = None,
    buffer: Annotated[Path | None, typer.Option(help="SQLite buffer file")] = None,
    p1_url: Annotated[str | None, typer.Option(help="P1 port: /dev/ttyUSB0 or socket://host:port")] = None,
    relay_broker: Annotated[str | None, typer.Option(help="Home broker for tasmota/shelly")] = None,
    sim_speed: Annotated[float | None, typer.Option(help="Simulated seconds per real second")] = None,
    status_interval: Annotated[float | None, typer.Option(help="Seconds between status lines [10]")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be sent; send nothing")] = False,
    duration: Annotated[float | None, typer.Option(help="Stop by itself after this many seconds")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log connection events")] = False,
) -> None:
    """Read a meter and publish every reading (buffered in SQLite until its PUBACK) until Ctrl-C."""
    from energymon.agent import DeviceAgent, build_source, load_agent_config

    try:
        cfg = load_agent_config(
            config, device_id=device_id, source=source, broker_url=broker, ca_file=ca_file, cert_file=cert_file,
            key_file=key_file, mqtt_version=mqtt_version, batch_interval_s=batch_interval, buffer_path=buffer,
            p1_url=p1_url, relay_broker_url=relay_broker, sim_speed=sim_speed, status_interval_s=status_interval,
        )
        agent = DeviceAgent(cfg, build_source(cfg), dry_run=dry_run,
                            on_status=lambda s: err.print(s.line(), soft_wrap=True, markup=False, highlight=False))
    except EnergymonError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    setup_logging(logging.INFO if verbose else logging.WARNING)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop(timeout_s=0))
    try:
        agent.run(duration_s=duration)
    except KeyboardInterrupt:
        pass


@app.command()
def certs(
    directory: Annotated[Path, typer.Option("--dir", help="Where the CA, server and device files go")] = Path("certs"),
    device: Annotated[list[str] | None, typer.Option("--device", "-d", help="Make a certificate for this id")] = None,
    server_name: Annotated[list[str] | None, typer.Option(help="Broker host names/IPs")] = None,
    uri_domain: Annotated[str, typer.Option(help="SAN URI domain (spiffe://<domain>/device/<id>)")] = "energymon.local",
) -> None:
    """A local CA, a broker certificate and device certificates, for the brokers' secure mode (mTLS)."""
    from energymon.certs import check_device_id, ensure_ca, ensure_device

    try:
        # Every id is checked before anything is written: a refused id must not leave a new CA behind.
        # (The bridge's identity may be made here on purpose: an external mTLS broker needs it.)
        for identity in device or []:
            check_device_id(identity)
        paths = ensure_ca(directory, tuple(server_name or ("localhost", "127.0.0.1")))
        made = [ensure_device(paths, d, uri_domain) for d in device or []]
    except EnergymonError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"CA {paths.ca_cert} · broker {paths.server_cert} + {paths.server_key}")
    for d in made:
        console.print(f"device {d.device_id}: {d.cert} + {d.key}")


from energymon.cli_aws import register as _register_aws  # noqa: E402 - `package-lambda`, `device provision`

_register_aws(app, device_app)


@app.command("cost-estimate")
def cost_estimate(
    apartments: Annotated[int, typer.Option(min=1, max=10_000_000, help="Apartments (devices) to price")] = 1,
    sample_hz: Annotated[float, typer.Option(min=0.001, max=10, help="Samples per second per device")] = 1.0,
    publish_interval: Annotated[
        float, typer.Option(min=1, max=3600, help="Seconds of samples per MQTT message")] = 10.0,
    shards: Annotated[int, typer.Option(min=1, max=500, help="Provisioned Kinesis shards")] = 1,
    format_: Annotated[OutputFormat, typer.Option("--format", help="Output format")] = OutputFormat.table,
) -> None:
    """Monthly AWS cost of the deployment, line by line, from the dated price table."""
    from energymon.costs import Deployment, estimate, load_prices

    prices = load_prices()
    lines = estimate(Deployment(apartments=apartments, sample_hz=sample_hz, publish_interval_s=publish_interval,
                                shards=shards), prices)
    total = sum(line.monthly_usd for line in lines)
    if format_ is OutputFormat.json:
        sys.stdout.write(orjson.dumps({"prices_as_of": prices["as_of"], "region": prices["region"],
                                       "total_usd": round(total, 2),
                                       "lines": [line.__dict__ for line in lines]},
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if format_ is OutputFormat.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["service", "item", "quantity", "unit", "monthly_usd"])
        for line in lines:
            writer.writerow([line.service, line.item, round(line.quantity, 3), line.unit, round(line.monthly_usd, 4)])
        return
    table = Table(title=f"{apartments:,} apartment(s) at {sample_hz:g} Hz, prices {prices['region']} "
                        f"as of {prices['as_of']}")
    for column in ("service", "item", "quantity", "unit", "USD/month"):
        table.add_column(column, justify="right" if column in ("quantity", "USD/month") else "left")
    for line in lines:
        table.add_row(line.service, line.item, f"{line.quantity:,.1f}", line.unit, f"{line.monthly_usd:,.2f}")
    table.caption = f"total {total:,.2f} USD/month ({total / apartments:,.4f} per apartment)"
    console.print(table)


def main() -> None:
    # The safety net: an error energymon raises on purpose, or one of the file system, is a message, not a
    # traceback (the commands handle the ones they expect more precisely).
    try:
        app()
    except (EnergymonError, OSError, sqlite3.Error) as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
