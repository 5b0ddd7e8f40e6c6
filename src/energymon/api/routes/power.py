"""``/api/devices/{device_id}/power``: raw readings or per-minute power over a range, nulls for gaps."""

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query

from energymon.api.params import From, To, Tz, parse_range, parse_zone
from energymon.api.schemas import ERRORS, PowerSeries

if TYPE_CHECKING:
    from energymon.api.context import ApiContext

__all__ = ["router"]

PowerResolution = Annotated[Literal["raw", "minute"], Query(
    description="raw readings, or per minute (average from energy, and peak)")]


def router(ctx: "ApiContext") -> APIRouter:
    api = APIRouter(tags=["power"], dependencies=ctx.guarded)

    @api.get("/api/devices/{device_id}/power", response_model=PowerSeries, responses=ERRORS)
    def power(device_id: str, from_: From = None, to: To = None, tz: Tz = None,
              resolution: PowerResolution = "raw") -> dict[str, Any]:
        """Power over a range: raw (at most 6 h) or per minute (at most 7 days), with nulls for gaps."""
        ctx.known(device_id)
        tz_name, tzinfo = parse_zone(tz, ctx.options.zones(device_id))
        rng = parse_range(from_, to, resolution, tz_name, tzinfo, ctx.now_ms())
        points = ctx.service.power_series(device_id, resolution, rng.start_ms, rng.end_ms, tz_name)
        return {"device_id": device_id, "timezone": tz_name, "resolution": resolution,
                "from_ms": rng.start_ms, "to_ms": rng.end_ms, "points": [asdict(p) for p in points]}

    return api
