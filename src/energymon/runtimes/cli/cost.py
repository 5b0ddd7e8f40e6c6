"""``energymon cost-estimate``: the monthly AWS bill of a deployment, from the dated price table.

No ``from __future__ import annotations``: Typer reads the options' annotations at run time.
"""

import csv
import sys
from typing import Annotated

import orjson
import typer
from rich.table import Table

from energymon.runtimes.cli.common import OutputFormat, console

__all__ = ["cost_estimate"]


def cost_estimate(
    apartments: Annotated[int, typer.Option(min=1, max=10_000_000, help="Apartments (devices) to price")] = 1,
    sample_hz: Annotated[float, typer.Option(min=0.001, max=10, help="Samples per second per device")] = 1.0,
    publish_interval: Annotated[
        float, typer.Option(min=1, max=3600, help="Seconds of samples per MQTT message")] = 10.0,
    shards: Annotated[int, typer.Option(min=1, max=500, help="Provisioned Kinesis shards")] = 1,
    dashboard_visits: Annotated[float, typer.Option(
        min=0, max=10_000, help="Hosted dashboard visits per apartment per day (0: no read API)")] = 20.0,
    format_: Annotated[OutputFormat, typer.Option("--format", help="Output format")] = OutputFormat.table,
) -> None:
    """Monthly AWS cost of the deployment, line by line, from the dated price table."""
    from energymon.deploy.bill import Deployment, estimate, load_prices

    prices = load_prices()
    lines = estimate(Deployment(apartments=apartments, sample_hz=sample_hz, publish_interval_s=publish_interval,
                                shards=shards, dashboard_visits_per_day=dashboard_visits), prices)
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
