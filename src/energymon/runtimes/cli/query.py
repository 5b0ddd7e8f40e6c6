"""``energymon query``: consumption, peak power and cost per period, through the query service.

No ``from __future__ import annotations``: Typer reads the options' annotations at run time.
"""

import csv
import io
import sys
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.table import Table

from energymon.application.periods import local_today
from energymon.application.queries import QueryService, UnknownDevice
from energymon.application.when import BadTime, parse_when
from energymon.domain.timebuckets import zone
from energymon.runtimes.cli.common import (
    AwsTableOption,
    ConfigOption,
    DataDirOption,
    OutputFormat,
    console,
    err,
    settings_or_exit,
)

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from energymon.application.queries import PeriodReport
    from energymon.config import Settings

__all__ = ["query"]

_FIELDS = ["period", "import_kwh", "export_kwh", "peak_power_w", "samples", "gap_minutes", "cost"]


class Resolution(StrEnum):
    minute = "minute"
    hour = "hour"
    day = "day"
    month = "month"


def query(
    device: Annotated[str, typer.Option(help="Device id, e.g. apt-1")],
    from_: Annotated[str | None, typer.Option(
        "--from", help="Start (date or time; device's zone unless an offset is given) [default: today]")] = None,
    to: Annotated[str | None, typer.Option(help="End, exclusive [default: start + 1 day]")] = None,
    resolution: Annotated[Resolution, typer.Option(help="Period length")] = Resolution.hour,
    format_: Annotated[OutputFormat, typer.Option("--format", help="Output format")] = OutputFormat.table,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    aws_table: AwsTableOption = None,
) -> None:
    """Consumption (kWh) and peak power per period, cut in the device's time zone."""
    settings = settings_or_exit(config, data_dir=data_dir)
    if aws_table:
        from energymon.runtimes.aws_read import explained, open_aws_read

        adapters = open_aws_read(aws_table, settings=settings)
        with explained(f"DynamoDB table {aws_table!r}", adapters.region):
            _report(adapters.query_service(), device, from_, to, resolution, format_)
        return
    _report(_service(settings), device, from_, to, resolution, format_)


def _report(service: QueryService, device: str, from_: str | None, to: str | None, resolution: Resolution,
            format_: OutputFormat) -> None:
    try:
        service.device(device)
    except UnknownDevice as exc:
        listing = ", ".join(exc.known) or "none yet"
        raise typer.BadParameter(f"unknown device {device!r} (known: {listing})", param_hint="--device") from None
    tz_name = service.zones(device)
    start, end = _range(from_, to, zone(tz_name), service.clock())
    reports = service.consumption(device, resolution.value, int(start.timestamp() * 1000), int(end.timestamp() * 1000))
    rows = [_row(p) for p in reports]
    if format_ is OutputFormat.json:
        sys.stdout.write(orjson.dumps({"device": device, "timezone": tz_name, "resolution": resolution.value,
                                       "currency": service.currency_of(device), "periods": rows},
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
    elif format_ is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        sys.stdout.write(buffer.getvalue())
    else:
        console.print(_table(rows, f"{device} · {resolution.value} · {tz_name}", service.currency_of(device)))


def _service(settings: "Settings") -> QueryService:
    """The query service over the data directory's store (exit 2 if there is none yet)."""
    from energymon.adapters.local.store import SqliteStore
    from energymon.processing.compose import build_query_service

    store_path = settings.data_dir / "store.db"
    if not store_path.exists():
        err.print(f"[red]error:[/red] no data in {settings.data_dir} (run `energymon run` first, or pass --data-dir)")
        raise typer.Exit(2)
    return build_query_service(settings.shared_settings(), SqliteStore(store_path))


def _when(value: str, tz: "ZoneInfo", option: str) -> datetime:
    try:
        return parse_when(value, tz)
    except BadTime:
        raise typer.BadParameter(
            f"{value!r} is not a date or time (use YYYY-MM-DD or YYYY-MM-DDTHH:MM[±HH:MM])", param_hint=option
        ) from None


def _range(from_: str | None, to: str | None, tz: "ZoneInfo", now_s: float) -> tuple[datetime, datetime]:
    """[start, end): ``--from`` or today's local midnight; ``--to`` or one day after the start."""
    start = _when(from_, tz, "--from") if from_ else datetime.fromtimestamp(local_today(now_s, tz)[1] / 1000, tz)
    end = _when(to, tz, "--to") if to else start + timedelta(days=1)
    if end <= start:
        raise typer.BadParameter(
            f"--to ({end.isoformat()}) must be after --from ({start.isoformat()})", param_hint="--to")
    return start, end


def _row(p: "PeriodReport") -> dict[str, Any]:
    return {"period": p.period, "import_kwh": round(p.import_kwh, 6), "export_kwh": round(p.export_kwh, 6),
            "peak_power_w": p.peak_power_w, "samples": p.samples, "gap_minutes": p.gap_minutes,
            "cost": None if p.cost is None else str(round(p.cost, 4))}


def _table(rows: list[dict[str, Any]], title: str, currency: str | None) -> Table:
    table = Table(title=title)
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
    return table
