"""``energymon cost-estimate``: the monthly AWS bill of a deployment profile, from the dated price table.

No ``from __future__ import annotations``: Typer reads the options' annotations at run time.
The options are checked by the bill model (``Deployment``), not by Typer, so a bad value is one line on stderr.
"""

import csv
import sys
from typing import Annotated

import orjson
import typer
from rich.table import Table

from energymon.runtimes.cli.common import OutputFormat, console, err

__all__ = ["cost_estimate"]


def cost_estimate(
    apartments: Annotated[int, typer.Option(help="Apartments (devices) to price")] = 1,
    profile: Annotated[str, typer.Option(
        help="fleet: Kinesis, customer-managed key, all alarms (the default design); "
             "lean: SQS, AWS-managed keys, data-protecting alarms, scheduled archive (one home)")] = "fleet",
    sample_hz: Annotated[float, typer.Option(help="Samples per second per device")] = 1.0,
    publish_interval: Annotated[float | None, typer.Option(
        help="Seconds of samples per MQTT message [default: the profile's, fleet 10, lean 30]")] = None,
    shards: Annotated[int, typer.Option(help="Provisioned Kinesis shards (fleet)")] = 1,
    batching_window: Annotated[float | None, typer.Option(
        help="Seconds the event source mapping gathers a batch [default: the profile's, fleet 10, lean 60]")] = None,
    archive_mode: Annotated[str | None, typer.Option(
        help="Terraform's archive_mode: per_batch (an object per batch) or scheduled (hour markers, an object per "
             "archiver run) [default: fleet per_batch, lean scheduled]")] = None,
    archive_interval: Annotated[float, typer.Option(
        help="Minutes between the archiver's runs with a scheduled archive (Terraform archive_interval_minutes)")
    ] = 60.0,
    basic_ingest: Annotated[bool, typer.Option(
        help="Devices publish through Basic Ingest ($aws/rules/<rule>/..., no IoT messaging charge; Terraform's "
             "basic_ingest); --no-basic-ingest: the broker topic")] = True,
    sqs_pollers: Annotated[int | None, typer.Option(
        help="Idle long-pollers of the SQS event source mapping (lean) [default: 5, the documented figure]")] = None,
    metrics_mode: Annotated[str | None, typer.Option(
        help="Terraform's metrics_mode: emf, emf_lean, log_filters or logs_only [default: fleet emf, lean logs_only]",
    )] = None,
    dashboard_visits: Annotated[float, typer.Option(
        help="Hosted dashboard visits per apartment per day (0: no read API)")] = 20.0,
    free_tier: Annotated[bool, typer.Option(
        "--free-tier", help="Subtract AWS's always-free monthly allowances (an account running nothing else)")] = False,
    format_: Annotated[OutputFormat, typer.Option("--format", help="Output format")] = OutputFormat.table,
) -> None:
    """Monthly AWS cost of the deployment, line by line, from the dated price table, with its assumptions."""
    from energymon.deploy.bill import Deployment, assumptions, estimate, free_tier_credits, load_prices

    try:
        deployment = Deployment(apartments=apartments, profile=profile, sample_hz=sample_hz,
                                publish_interval_s=publish_interval, shards=shards, batching_window_s=batching_window,
                                basic_ingest=basic_ingest,
                                archive_mode=archive_mode, archive_interval_min=archive_interval,
                                sqs_idle_pollers=sqs_pollers,
                                dashboard_visits_per_day=dashboard_visits, metrics_mode=metrics_mode)
    except ValueError as exc:
        err.print(f"[red]error:[/red] cost-estimate: {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None
    prices = load_prices()
    lines = estimate(deployment, prices)
    if free_tier:
        lines += free_tier_credits(lines, prices)
    rows = assumptions(deployment, prices)
    total = sum(line.monthly_usd for line in lines)
    if format_ is OutputFormat.json:
        sys.stdout.write(orjson.dumps({"profile": profile, "apartments": apartments, "prices_as_of": prices["as_of"],
                                       "region": prices["region"], "total_usd": round(total, 2),
                                       "per_apartment_usd": round(total / apartments, 4),
                                       "assumptions": [row.__dict__ for row in rows],
                                       "lines": [line.__dict__ for line in lines]},
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if format_ is OutputFormat.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(["service", "item", "quantity", "unit", "monthly_usd"])
        for line in lines:
            writer.writerow([line.service, line.item, round(line.quantity, 3), line.unit, round(line.monthly_usd, 4)])
        return
    table = Table(title=f"{profile}: {apartments:,} apartment(s) at {sample_hz:g} Hz, prices {prices['region']} "
                        f"as of {prices['as_of']}")
    for column in ("service", "item", "quantity", "unit", "USD/month"):
        table.add_column(column, justify="right" if column in ("quantity", "USD/month") else "left")
    for line in lines:
        table.add_row(line.service, line.item, f"{line.quantity:,.1f}", line.unit, f"{line.monthly_usd:,.2f}")
    table.caption = f"total {total:,.2f} USD/month ({total / apartments:,.4f} per apartment)"
    console.print(table)
    shown = Table(title="assumptions (derived from the options and the measured figures in BENCHMARKS.md)")
    for column in ("assumption", "value", "unit"):
        shown.add_column(column, justify="right" if column == "value" else "left")
    for row in rows:
        shown.add_row(row.name, f"{row.value:,.0f}" if row.value >= 1000 else f"{row.value:,.4g}", row.unit)
    console.print(shown)
