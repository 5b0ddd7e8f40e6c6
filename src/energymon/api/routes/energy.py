"""Energy per local period (``/api/devices/{device_id}/energy``) and today so far (``.../today``, ``/api/today``)."""

from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query

from energymon.api.params import BadParameter, From, To, Tz, parse_range, parse_zone
from energymon.api.schemas import ERRORS, EnergySeries, Today

if TYPE_CHECKING:
    from energymon.api.context import ApiContext

__all__ = ["router"]

EnergyPeriodLength = Annotated[Literal["minute", "hour", "day", "month"], Query(
    description="Period length, cut in the zone")]


def router(ctx: "ApiContext") -> APIRouter:
    api = APIRouter(tags=["energy"], dependencies=ctx.guarded)
    service = ctx.service

    @api.get("/api/devices/{device_id}/energy", response_model=EnergySeries, responses=ERRORS)
    def energy(device_id: str, from_: From = None, to: To = None, tz: Tz = None,
               period: EnergyPeriodLength = "hour") -> dict[str, Any]:
        """Energy per local period, every period of the range listed, gaps flagged."""
        ctx.known(device_id)
        own = ctx.options.zones(device_id)
        tz_name, tzinfo = parse_zone(tz, own)
        if period in ("day", "month") and tz_name != own:
            raise BadParameter("tz", f"days and months are cut in the device's zone ({own}); "
                                     "another zone is possible for minute and hour periods only")
        rng = parse_range(from_, to, period, tz_name, tzinfo, ctx.now_ms())
        return asdict(service.energy_series(device_id, period, rng.start_ms, rng.end_ms, tz_name))

    @api.get("/api/devices/{device_id}/today", response_model=Today, responses=ERRORS)
    def today(device_id: str) -> dict[str, Any]:
        """Today so far (local day of the device), with the latest power."""
        return asdict(service.today(ctx.known(device_id)))

    @api.get("/api/today", response_model=list[Today], responses={401: ERRORS[401]})
    def today_all() -> list[dict[str, Any]]:
        """Today's summary for every device."""
        return [asdict(t) for t in service.today_all()]

    return api
