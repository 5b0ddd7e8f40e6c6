"""``/api/alerts``: the alerts firing now and the recent notifications (firing, resolved, flapping)."""

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from energymon.api.schemas import ERRORS
from energymon.application.alerts import incident_view

if TYPE_CHECKING:
    from energymon.api.context import ApiContext

__all__ = ["AlertIncident", "AlertNotice", "Alerts", "router"]


class AlertIncident(BaseModel):
    rule: str
    kind: str
    device_id: str
    state: Literal["ok", "pending", "firing", "resolved", "no data yet"]
    flapping: bool
    started_at: str | None = Field(description="The incident's start, in the device's zone")
    started_at_ms: int | None
    ended_at: str | None
    value: float | None = Field(description="The value that crossed (or the latest seen)")
    threshold: float | None
    unit: str
    critical: bool
    channels: list[str]


class AlertNotice(BaseModel):
    key: str = Field(description="rule/device/started_at_ms/state: the same on every replay")
    rule: str
    kind: str
    device_id: str
    state: Literal["firing", "resolved", "flapping", "test"]
    started_at: str
    ended_at: str | None
    duration_s: float | None
    value: float | None
    threshold: float | None
    unit: str
    message: str
    at_ms: int = Field(description="When the state change was recorded")


class Alerts(BaseModel):
    configured: bool = Field(description="False when this runtime evaluates no alert rules")
    active: list[AlertIncident]
    recent: list[AlertNotice]


def router(ctx: "ApiContext") -> APIRouter:
    api = APIRouter(tags=["alerts"], dependencies=ctx.guarded)

    @api.get("/api/alerts", response_model=Alerts, responses={401: ERRORS[401], 422: ERRORS[422]})
    def alerts(
        device: Annotated[str | None, Query(max_length=128, description="Only this device")] = None,
        limit: Annotated[int, Query(ge=1, le=500, description="Recent notifications, newest first")] = 50,
    ) -> dict[str, Any]:
        evaluator = ctx.options.alerts
        if evaluator is None:
            return {"configured": False, "active": [], "recent": []}
        active = [incident_view(s, ctx.options.zones(s.device_id)) for s in evaluator.statuses()
                  if s.state is not None and s.state.status == "firing" and device in (None, s.device_id)]
        recent = [{**e.notification.body(), "at_ms": e.at_ms} for e in evaluator.state.history(device, limit)]
        return {"configured": True, "active": active, "recent": recent}

    return api
