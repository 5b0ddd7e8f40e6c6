"""``/api/devices``: every device with its status and latest reading."""

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from energymon.api.schemas import ERRORS, Device

if TYPE_CHECKING:
    from energymon.api.context import ApiContext

__all__ = ["router"]


def router(ctx: "ApiContext") -> APIRouter:
    api = APIRouter(tags=["devices"], dependencies=ctx.guarded)

    @api.get("/api/devices", response_model=list[Device], responses={401: ERRORS[401]})
    def devices() -> list[dict[str, Any]]:
        return [asdict(d) for d in ctx.service.devices()]

    return api
