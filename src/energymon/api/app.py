"""The HTTP API and dashboard: a thin entry point over the query port (``Store``), nothing else.

It works the same over the SQLite store and any other ``Store``: every number comes from
``Store.devices()``, ``Store.periods()`` and ``Store.readings_around()``.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pydantic import BaseModel, Field

from energymon.api.live import LiveFeed
from energymon.api.params import BadParameter, expected_periods, midnight_ms, next_month, parse_range, parse_zone
from energymon.domain.costing import period_costs
from energymon.domain.tariffs import Tariff, TariffNotDefined
from energymon.domain.timebuckets import local_day_bounds_ms, zone

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from prometheus_client.registry import Collector

    from energymon.domain.reading import Reading
    from energymon.health import Health as RuntimeHealth
    from energymon.ports import DeadLetters, DeviceSummary, Store

__all__ = ["ApiOptions", "create_app"]

TOKEN_COOKIE = "energymon_token"  # noqa: S105 - a cookie name, not a secret
_STATIC = Path(str(resources.files("energymon.api") / "static"))


# ---------------------------------------------------------------------------------------------- models
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


# ------------------------------------------------------------------------------------------- options
class ApiOptions:
    """What the API needs besides the store, all optional: the local runtime passes its own."""

    def __init__(
        self,
        zones: Callable[[str], str] | None = None,
        *,
        api_token: str | None = None,
        registry: CollectorRegistry | None = None,
        dead_letters: DeadLetters | None = None,
        stream_lag: Callable[[], int] | None = None,
        online_within_s: float = 120.0,
        tariff: Tariff | None = None,
        live_interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        health: RuntimeHealth | None = None,
    ) -> None:
        self.health = health
        self.zones = zones or (lambda _device: "UTC")
        self.api_token = api_token or None
        self.registry = registry
        self.dead_letters = dead_letters
        self.stream_lag = stream_lag
        self.online_within_s = online_within_s
        self.tariff = tariff
        self.live_interval_s = live_interval_s
        self.clock = clock


class _PipelineCollector:
    """Stream lag and dead-letter count read at scrape time, plus zeros for counters not yet created."""

    def __init__(self, options: ApiOptions) -> None:
        self.options = options

    def collect(self) -> Iterator[Any]:
        o = self.options
        if o.stream_lag is not None:
            yield GaugeMetricFamily("energymon_stream_lag_records", "Records not yet processed", o.stream_lag())
        if o.dead_letters is not None:
            yield GaugeMetricFamily("energymon_dead_letters", "Messages kept in the dead-letter store",
                                    o.dead_letters.count())
            trimmed = getattr(o.dead_letters, "trimmed", None)
            if callable(trimmed):
                yield GaugeMetricFamily("energymon_dead_letters_trimmed", "Old rejections trimmed to bound the "
                                        "dead-letter store", trimmed())
        for name, text in (("readings_processed", "Readings written to the store"),
                           ("readings_rejected", "Readings rejected, by reason")):
            if o.registry is None or o.registry.get_sample_value(f"energymon_{name}_total") is None and not any(
                m.name == f"energymon_{name}" for m in o.registry.collect()
            ):
                yield CounterMetricFamily(f"energymon_{name}", text, 0)


# ----------------------------------------------------------------------------------------------- app
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong API token"},
    404: {"model": ErrorBody, "description": "Unknown device"},
    422: {"model": ErrorBody, "description": "A parameter is malformed or out of range"},
}


# Module level: FastAPI resolves these annotations by name (``from __future__ import annotations``).
From = Annotated[str | None, Query(alias="from", description="Start: epoch ms or ISO-8601 (device zone "
                                   "if no offset) [default: 'to' minus a usual span]")]
To = Annotated[str | None, Query(description="End, exclusive [default: now]")]
Tz = Annotated[str | None, Query(description="IANA zone for labels and cuts [default: the device's]")]
bearer = HTTPBearer(auto_error=False, description="Required when the server binds a non-loopback address")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def create_app(store: Store, options: ApiOptions | None = None) -> FastAPI:  # noqa: C901 - one route per function
    opts = options or ApiOptions()
    feed = LiveFeed(store, opts.live_interval_s, opts.clock)
    extra_registry = CollectorRegistry(auto_describe=False)
    collector: Collector = _PipelineCollector(opts)
    extra_registry.register(collector)

    app = FastAPI(
        title="energymon",
        version="1",
        description="Home energy: devices, power, energy per local period, live power (SSE), metrics.",
    )
    app.state.feed = feed

    def require_token(
        request: Request, credentials: Credentials
    ) -> None:
        if opts.api_token is None:
            return
        given = (credentials.credentials if credentials else None) or request.cookies.get(TOKEN_COOKIE) \
            or request.query_params.get("token")
        if not given or not secrets.compare_digest(given.encode(), opts.api_token.encode()):
            raise BadParameter("token", "missing or wrong API token (Authorization: Bearer <token>)", 401)

    # The schema declares bearer auth only when a token is configured (it is then really enforced).
    guarded = [Depends(require_token)] if opts.api_token else []

    @app.exception_handler(BadParameter)
    async def _bad_parameter(_request: Request, exc: BadParameter) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": {"parameter": exc.parameter, "message": exc.message}}, exc.status,
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body", "header")]
        parameter = loc[0] if loc else None
        return JSONResponse({"error": {"parameter": parameter, "message": f"{parameter}: {first['msg']}"}}, 422)

    def known(device_id: str) -> DeviceSummary:
        for summary in store.devices():
            if summary.device_id == device_id:
                return summary
        raise BadParameter("device_id", f"unknown device {device_id!r}", 404)

    def now_ms() -> int:
        return int(opts.clock() * 1000)

    # ------------------------------------------------------------------------------------------ routes
    @app.get("/healthz", response_model=Health, tags=["ops"], responses={
        503: {"model": Health, "description": "A component is degraded or has failed (see components)"}})
    def healthz() -> dict[str, Any]:
        components: dict[str, Any] = {}
        state = "ok"
        if opts.health is not None:
            components = {c.name: c.to_dict() for c in opts.health.components()}
            state = opts.health.status()
        try:
            devices = len(store.devices())
        except Exception as exc:  # noqa: BLE001 - health reports, it does not raise
            devices = 0
            state = "failed" if state == "failed" else "degraded"
            components["store"] = {"status": "degraded", "reason": f"cannot read the store: {exc}", "since": 0.0,
                                   "faults": 1}
        body = {"status": state, "store": type(store).__name__, "devices": devices, "live_clients": feed.clients,
                "components": components}
        if state != "ok":
            return JSONResponse(body, 503)  # type: ignore[return-value]
        return body

    @app.get("/metrics", tags=["ops"], dependencies=guarded, responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text format"},
        401: _ERRORS[401]})
    def metrics() -> Response:
        text = generate_latest(opts.registry) if opts.registry is not None else b""
        text += generate_latest(extra_registry)
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/api/devices", response_model=list[Device], tags=["devices"], dependencies=guarded,
             responses={401: _ERRORS[401]})
    def devices() -> list[dict[str, Any]]:
        now = opts.clock()
        out = []
        for s in store.devices():
            tz_name = opts.zones(s.device_id)
            age = None if s.last_ts_ms is None else max(0.0, now - s.last_ts_ms / 1000)
            out.append({
                "device_id": s.device_id, "timezone": tz_name,
                "status": "never" if age is None else "online" if age <= opts.online_within_s else "stale",
                "last_seen_ms": s.last_ts_ms,
                "last_seen": None if s.last_ts_ms is None
                else datetime.fromtimestamp(s.last_ts_ms / 1000, zone(tz_name)).isoformat(timespec="seconds"),
                "last_seen_age_s": age, "power_w": s.last_power_w, "energy_wh": s.last_energy_wh,
                "readings": s.readings,
            })
        return out

    @app.get("/api/devices/{device_id}/power", response_model=PowerSeries, tags=["power"], dependencies=guarded,
             responses=_ERRORS)
    def power(
        device_id: str, from_: From = None, to: To = None, tz: Tz = None,
        resolution: Annotated[Literal["raw", "minute"], Query(description="raw readings, or per minute "
                                                              "(average from energy, and peak)")] = "raw",
    ) -> dict[str, Any]:
        """Power over a range: raw (at most 6 h) or per minute (at most 7 days), with nulls for gaps."""
        known(device_id)
        tz_name, tzinfo = parse_zone(tz, opts.zones(device_id))
        rng = parse_range(from_, to, resolution, tz_name, tzinfo, now_ms())
        points: list[dict[str, Any]] = []
        if resolution == "raw":
            readings = [r for r in store.readings_around(device_id, rng.start_ms, rng.end_ms - 1)
                        if rng.start_ms <= r.ts_ms < rng.end_ms]
            step = _typical_step_ms(readings)
            previous = None
            for r in readings:
                if previous is not None and r.ts_ms - previous > max(3 * step, 30_000):
                    points.append({"t": previous + 1, "power_w": None})
                points.append({"t": r.ts_ms, "power_w": r.power_w})
                previous = r.ts_ms
        else:
            rows = {p.start_ms: p for p in store.periods(device_id, "minute", rng.start_ms, rng.end_ms, tz_name)}
            for key, _ in expected_periods("minute", rng.start_ms, rng.end_ms, tzinfo):
                p = rows.get(int(key))
                points.append({"t": key, "power_w": None if p is None else round(p.import_kwh * 60_000, 3),
                               "peak_w": None if p is None else p.peak_power_w})
        return {"device_id": device_id, "timezone": tz_name, "resolution": resolution,
                "from_ms": rng.start_ms, "to_ms": rng.end_ms, "points": points}

    @app.get("/api/devices/{device_id}/energy", response_model=EnergySeries, tags=["energy"],
             dependencies=guarded, responses=_ERRORS)
    def energy(
        device_id: str, from_: From = None, to: To = None, tz: Tz = None,
        period: Annotated[Literal["minute", "hour", "day", "month"], Query(
            description="Period length, cut in the zone")] = "hour",
    ) -> dict[str, Any]:
        """Energy per local period, every period of the range listed, gaps flagged."""
        known(device_id)
        tz_name, tzinfo = parse_zone(tz, opts.zones(device_id))
        if period in ("day", "month") and tz_name != opts.zones(device_id):
            raise BadParameter("tz", f"days and months are cut in the device's zone ({opts.zones(device_id)}); "
                                     "another zone is possible for minute and hour periods only")
        rng = parse_range(from_, to, period, tz_name, tzinfo, now_ms())
        rows = store.periods(device_id, period, rng.start_ms, rng.end_ms, tz_name)
        by_key: dict[str | int, Any] = {(p.start_ms if period in ("minute", "hour") else p.start): p for p in rows}
        expected = expected_periods(period, rng.start_ms, rng.end_ms, tzinfo)
        now = now_ms()
        out: list[dict[str, Any]] = []
        ends = []
        for i, (key, start_ms) in enumerate(expected):
            end_ms = expected[i + 1][1] if i + 1 < len(expected) else _period_end(period, start_ms, tzinfo)
            ends.append(end_ms)
            p = by_key.get(key)
            partial = start_ms < rng.start_ms or end_ms > rng.end_ms or end_ms > now
            label = p.start if p is not None else _label(period, key, tzinfo)
            out.append({
                "start": label, "start_ms": start_ms,
                "import_kwh": None if p is None else round(p.import_kwh, 6),
                "export_kwh": None if p is None else round(p.export_kwh, 6),
                "peak_power_w": None if p is None else p.peak_power_w,
                "samples": 0 if p is None else p.samples,
                "cost": None, "gap": (p is None and start_ms <= now) or (p is not None and p.gap_minutes > 0),
                "gap_minutes": 0 if p is None else p.gap_minutes, "partial": partial,
            })
        costs = costs_of(device_id, period, [(max(o["start_ms"], rng.start_ms), min(end, rng.end_ms))
                                             for o, end in zip(out, ends, strict=True)], tzinfo)
        for row, cost in zip(out, costs, strict=True):
            row["cost"] = cost if row["import_kwh"] is not None else None
        return {"device_id": device_id, "timezone": tz_name, "period": period,
                "from_ms": rng.start_ms, "to_ms": rng.end_ms,
                "currency": opts.tariff.currency if opts.tariff else None,
                "total_cost": None if opts.tariff is None else round(sum(o["cost"] or 0 for o in out), 4),
                "total_import_kwh": round(sum(p.import_kwh for p in rows), 6),
                "total_export_kwh": round(sum(p.export_kwh for p in rows), 6),
                "gaps": sum(1 for p in out if p["gap"]), "periods": out}

    def costs_of(device_id: str, period: str, bounds: list[tuple[int, int]], tzinfo: Any) -> list[float | None]:
        """Cost per [start, end) from the tariff (standing charges for whole days and months), or None."""
        if opts.tariff is None or not bounds:
            return [None] * len(bounds)
        try:
            costs = period_costs(opts.tariff, bounds, tzinfo, lambda r: store.energy_sums(device_id, r),
                                 standing_charges=period in ("day", "month"))
        except TariffNotDefined:
            return [None] * len(bounds)  # the tariff does not cover these dates: no cost rather than a guess
        return [round(float(c), 4) for c in costs]

    def today_of(summary: DeviceSummary) -> dict[str, Any]:
        tz_name, tzinfo = parse_zone(None, opts.zones(summary.device_id))
        day = datetime.fromtimestamp(opts.clock(), tzinfo).strftime("%Y-%m-%d")
        start, end = local_day_bounds_ms(day, tzinfo)
        days = store.periods(summary.device_id, "day", start, end, tz_name)
        peaks = [p.peak_power_w for p in days if p.peak_power_w is not None]
        return {"device_id": summary.device_id, "timezone": tz_name, "day": day,
                "import_kwh": round(sum(p.import_kwh for p in days), 6),
                "export_kwh": round(sum(p.export_kwh for p in days), 6),
                "peak_power_w": max(peaks) if peaks else None,
                "cost": costs_of(summary.device_id, "day", [(start, end)], tzinfo)[0],
                "currency": opts.tariff.currency if opts.tariff else None,
                "power_w": summary.last_power_w, "last_seen_ms": summary.last_ts_ms}

    @app.get("/api/devices/{device_id}/today", response_model=Today, tags=["energy"], dependencies=guarded,
             responses=_ERRORS)
    def today(device_id: str) -> dict[str, Any]:
        """Today so far (local day of the device), with the latest power."""
        return today_of(known(device_id))

    @app.get("/api/today", response_model=list[Today], tags=["energy"], dependencies=guarded,
             responses={401: _ERRORS[401]})
    def today_all() -> list[dict[str, Any]]:
        """Today's summary for every device."""
        return [today_of(s) for s in store.devices()]

    @app.get("/api/live", tags=["power"], dependencies=guarded, responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
              "description": "Events: hello, power {device_id, points: [[t, W]...]}, tick {now_ms} every second"},
        **_ERRORS})
    async def live(device: Annotated[str | None, Query(description="Only this device")] = None) -> Response:
        """Live power as server-sent events."""
        if device is not None:
            await _in_thread(known, device)
        return StreamingResponse(feed.stream(device), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # ------------------------------------------------------------------------------------- dashboard
    @app.get("/", include_in_schema=False)
    def dashboard(request: Request) -> Response:
        response = HTMLResponse((_STATIC / "index.html").read_text())
        token = request.query_params.get("token")
        if opts.api_token and token and secrets.compare_digest(token.encode(), opts.api_token.encode()):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> Response:
        return FileResponse(_plotly_path(), media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        path = _STATIC / name
        if name not in {"app.js", "style.css"} or not path.is_file():
            return JSONResponse({"error": {"parameter": "name", "message": f"no such file {name!r}"}}, 404)
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return FileResponse(path, media_type=kind)

    return app


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    import anyio

    return await anyio.to_thread.run_sync(fn, *args)


def _plotly_path() -> Path:
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def _typical_step_ms(readings: list[Reading]) -> int:
    if len(readings) < 2:
        return 1000
    steps = sorted(b.ts_ms - a.ts_ms for a, b in zip(readings, readings[1:], strict=False))
    return max(1, steps[len(steps) // 2])


def _period_end(period: str, start_ms: int, tz: Any) -> int:
    if period == "minute":
        return start_ms + 60_000
    if period == "hour":
        return start_ms + 3_600_000
    day = datetime.fromtimestamp(start_ms / 1000, tz).date()
    return midnight_ms(day + timedelta(days=1) if period == "day" else next_month(day), tz)


def _label(period: str, key: str | int, tz: Any) -> str:
    if period in ("minute", "hour"):
        return datetime.fromtimestamp(int(key) / 1000, tz).isoformat(timespec="minutes")
    return str(key)
