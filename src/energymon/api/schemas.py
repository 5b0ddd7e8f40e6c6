"""The API's response models (they are its published OpenAPI schema) and the documented error answers."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "ERRORS", "ApiError", "Component", "Device", "EnergyPeriod", "EnergySeries", "ErrorBody", "Health", "PowerPoint",
    "PowerSeries", "Today",
]


class ApiError(BaseModel):
    parameter: str | None = Field(None, description="The request parameter at fault, when there is one")
    message: str


class ErrorBody(BaseModel):
    error: ApiError


class Device(BaseModel):
    device_id: str
    timezone: str
    status: Literal["online", "stale", "never"]
    last_seen_ms: int | None
    last_seen: str | None = Field(None, description="ISO-8601 in the device's zone")
    last_seen_age_s: float | None
    power_w: float | None
    energy_wh: float | None
    readings: int


class PowerPoint(BaseModel):
    t: int = Field(description="UTC epoch milliseconds (minute start for per-minute points)")
    power_w: float | None = Field(description="Power; null marks a gap (charts draw a break)")
    peak_w: float | None = None


class PowerSeries(BaseModel):
    device_id: str
    timezone: str
    resolution: Literal["raw", "minute"]
    from_ms: int
    to_ms: int
    points: list[PowerPoint]


class EnergyPeriod(BaseModel):
    start: str = Field(description="Local start: ISO-8601 with offset (minute/hour), YYYY-MM-DD or YYYY-MM")
    start_ms: int
    import_kwh: float | None = Field(description="null when the period has no data (a gap)")
    export_kwh: float | None
    peak_power_w: float | None
    samples: int
    cost: float | None = Field(None, description="Cost in `currency` (standing charges included for days and "
                               "months); null without a configured tariff")
    gap: bool = Field(description="No data at all for this period, or part of it lies in a gap between readings "
                                  "longer than max_gap (see gap_minutes)")
    gap_minutes: int = Field(0, description="Minutes of the period inside a gap between readings longer than max_gap")
    partial: bool = Field(description="The period is still running or lies partly outside the range")


class EnergySeries(BaseModel):
    device_id: str
    timezone: str
    period: Literal["minute", "hour", "day", "month"]
    from_ms: int
    to_ms: int
    unit: Literal["kWh"] = "kWh"
    total_import_kwh: float
    total_export_kwh: float
    gaps: int
    currency: str | None = Field(None, description="ISO 4217 code of every cost; null without a tariff")
    total_cost: float | None = None
    periods: list[EnergyPeriod]


class Today(BaseModel):
    device_id: str
    timezone: str
    day: str
    import_kwh: float
    export_kwh: float
    peak_power_w: float | None
    cost: float | None = None
    currency: str | None = None
    power_w: float | None
    last_seen_ms: int | None


class Component(BaseModel):
    status: Literal["ok", "degraded", "failed"]
    reason: str = Field("", description="Why it is degraded or failed, in words a person can read")
    since: float = Field(0.0, description="Epoch seconds of the last change")
    faults: int = Field(0, description="Faults reported since it was last ok")


class Health(BaseModel):
    status: Literal["ok", "degraded", "failed"]
    store: str
    devices: int
    live_clients: int
    components: dict[str, Component] = Field(default_factory=dict,
                                             description="Each long-lived part of the runtime, when it runs one")


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong API token"},
    404: {"model": ErrorBody, "description": "Unknown device"},
    422: {"model": ErrorBody, "description": "A parameter is malformed or out of range"},
}
