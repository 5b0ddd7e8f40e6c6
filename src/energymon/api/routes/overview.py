"""The main screen: ``/api/devices/{device_id}/overview`` and ``/api/site/overview`` (cost per hour now, today
against yesterday and last week, always-on load, this month's peak demand), the site's summed energy
(``/api/site/energy``), and CSV of a period (``.../energy.csv``) with local and UTC times.

The figures and their definitions live in :mod:`energymon.application.overview`.
"""

import csv
import io
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from energymon.api.params import BadParameter, From, To, parse_range, parse_zone
from energymon.api.schemas import ERRORS, ErrorBody
from energymon.application.overview import CSV_COLUMNS, CSV_MAX_ROWS, CsvTooLarge, Overview

if TYPE_CHECKING:
    from energymon.api.context import ApiContext

__all__ = ["DeviceOverview", "SiteEnergy", "SiteOverview", "router"]

Nights = Annotated[int, Query(ge=1, le=28, description="Nights (00:00-05:00 local) the always-on load looks at")]
Period = Annotated[Literal["minute", "hour", "day", "month"], Query(description="Period length, cut in the zone")]


class LiveCost(BaseModel):
    power_w: float | None
    price_per_kwh: float | None = Field(description="Price in force now (time-of-use aware); null without tariff")
    cost_per_hour: float | None = Field(description="power_w / 1000 × price_per_kwh")
    price_until_ms: int | None = Field(description="When the price next changes (within two days), if it does")
    currency: str | None


class DayToTime(BaseModel):
    day: str = Field(description="Local date")
    start_ms: int = Field(description="Local midnight of that day")
    end_ms: int = Field(description="The same local wall-clock time as now, on that day")
    import_kwh: float
    cost: float | None = Field(description="Energy cost plus that day's standing charge; null without tariff")


class AlwaysOn(BaseModel):
    power_w: float | None = Field(description="10th percentile (nearest rank) of per-minute power between 00:00 "
                                  "and 05:00 local over the last `nights` complete nights; null with fewer than "
                                  "60 such minutes")
    minutes: int = Field(description="Night minutes with data the percentile was taken over")
    nights: int
    kwh_per_year: float | None = Field(description="power_w for 8,760 hours")
    cost_per_year: float | None = Field(description="kwh_per_year at this week's time-weighted mean price")
    currency: str | None


class PeakDemand(BaseModel):
    month: str = Field(description="Local month, YYYY-MM")
    kw: float | None = Field(description="Highest average power over one quarter-hour this month so far")
    start_ms: int | None
    start: str | None = Field(description="Start of that quarter-hour, local ISO-8601")
    end: str | None


class DeviceOverview(BaseModel):
    device_id: str
    timezone: str
    status: Literal["online", "stale", "never"]
    last_seen_ms: int | None
    currency: str | None
    live: LiveCost
    today: DayToTime
    yesterday: DayToTime = Field(description="Yesterday up to the same local time")
    last_week: DayToTime = Field(description="The same weekday last week, up to the same local time")
    vs_yesterday_pct: float | None = Field(description="Today's kWh against yesterday's at the same time, in %")
    vs_last_week_pct: float | None
    always_on: AlwaysOn
    peak_demand: PeakDemand


class SiteOverview(BaseModel):
    timezone: str = Field(description="The site's zone (its devices'; the first device's when they differ)")
    devices: list[DeviceOverview]
    currency: str | None = Field(description="null when devices are costed in different currencies")
    power_w: float | None = Field(description="Sum of the latest power of the devices online")
    cost_per_hour: float | None
    today_kwh: float
    today_cost: float | None
    yesterday_kwh: float
    yesterday_cost: float | None
    last_week_kwh: float
    last_week_cost: float | None
    vs_yesterday_pct: float | None
    vs_last_week_pct: float | None
    always_on_w: float | None = Field(description="Sum of every device's always-on load")
    always_on_cost_per_year: float | None
    peak_demand: PeakDemand = Field(description="Coincident: the quarter-hour where the devices' sum was highest")


class SiteEnergyPeriod(BaseModel):
    start: str
    start_ms: int
    import_kwh: float | None = Field(description="Sum over the devices; null when none has data")
    cost: float | None
    gap: bool = Field(description="Some device has no data, or a gap, in this period")
    partial: bool


class SiteEnergy(BaseModel):
    timezone: str
    period: Literal["minute", "hour", "day", "month"]
    from_ms: int
    to_ms: int
    unit: Literal["kWh"] = "kWh"
    total_import_kwh: float
    gaps: int
    currency: str | None
    total_cost: float | None
    periods: list[SiteEnergyPeriod]


_CSV_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}},
          "description": f"One row per device and period; columns: {', '.join(CSV_COLUMNS)}"},
    **ERRORS,
    413: {"model": ErrorBody, "description": f"More than {CSV_MAX_ROWS} rows: the limit is named"},
}


def _csv(rows: list[tuple[Any, ...]], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def router(ctx: "ApiContext") -> APIRouter:
    api = APIRouter(tags=["overview"], dependencies=ctx.guarded)
    overview = Overview(ctx.service)

    def csv_rows(devices: list[str], from_: str | None, to: str | None, period: str, tz_name: str) -> list[Any]:
        _, tzinfo = parse_zone(None, tz_name)
        rng = parse_range(from_, to, period, tz_name, tzinfo, ctx.now_ms())
        try:
            return overview.csv_rows(devices, period, rng.start_ms, rng.end_ms)
        except CsvTooLarge as exc:
            raise BadParameter("from", str(exc), 413) from None

    @api.get("/api/devices/{device_id}/overview", response_model=DeviceOverview, responses=ERRORS)
    def device_overview(device_id: str, nights: Nights = 7) -> dict[str, Any]:
        """The main screen's figures for one device."""
        return asdict(overview.device(ctx.known(device_id), nights))

    @api.get("/api/site/overview", response_model=SiteOverview, responses={401: ERRORS[401], 422: ERRORS[422]})
    def site_overview(nights: Nights = 7) -> dict[str, Any]:
        """Every device added up (an apartment with several meters), with each device's own figures."""
        return asdict(overview.site(nights))

    @api.get("/api/site/energy", response_model=SiteEnergy, responses={401: ERRORS[401], 422: ERRORS[422]})
    def site_energy(from_: From = None, to: To = None, period: Period = "hour") -> dict[str, Any]:
        """Energy per local period of every device, added up (times without an offset: the site's zone)."""
        tz_name, tzinfo = parse_zone(None, overview.site_zone())
        rng = parse_range(from_, to, period, tz_name, tzinfo, ctx.now_ms())
        return asdict(overview.site_energy(period, rng.start_ms, rng.end_ms))

    @api.get("/api/devices/{device_id}/energy.csv", responses=_CSV_RESPONSES)
    def device_csv(device_id: str, from_: From = None, to: To = None, period: Period = "hour") -> Response:
        """Energy per period as CSV, local and UTC times (ranges as for .../energy; at most 50,000 rows)."""
        ctx.known(device_id)
        rows = csv_rows([device_id], from_, to, period, ctx.options.zones(device_id))
        return _csv(rows, f"energymon-{device_id}-{period}.csv")

    @api.get("/api/site/energy.csv", responses=_CSV_RESPONSES)
    def site_csv(from_: From = None, to: To = None, period: Period = "hour") -> Response:
        """Every device's energy per period as CSV (one row per device and period), local and UTC times."""
        devices = [s.device_id for s in ctx.service.summaries()]
        rows = csv_rows(devices, from_, to, period, overview.site_zone())
        return _csv(rows, f"energymon-site-{period}.csv")

    return api
