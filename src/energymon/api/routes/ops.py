"""``/healthz`` (503 when a component is degraded or has failed) and ``/metrics`` (Prometheus text)."""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from energymon.api.device_metrics import DeviceCollector
from energymon.api.schemas import ERRORS, Health

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from energymon.api.context import ApiContext, ApiOptions

__all__ = ["router"]


class _PipelineCollector:
    """Stream lag and dead-letter count read at scrape time, plus zeros for counters not yet created."""

    def __init__(self, options: "ApiOptions") -> None:
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


def router(ctx: "ApiContext") -> APIRouter:
    opts = ctx.options
    extra_registry = CollectorRegistry(auto_describe=False)
    collector: Collector = _PipelineCollector(opts)
    extra_registry.register(collector)
    extra_registry.register(DeviceCollector(ctx.service))
    api = APIRouter(tags=["ops"])

    @api.get("/healthz", response_model=Health, responses={
        503: {"model": Health, "description": "A component is degraded or has failed (see components)"}})
    def healthz() -> dict[str, Any]:
        components: dict[str, Any] = {}
        state = "ok"
        if opts.health is not None:
            components = {c.name: c.to_dict() for c in opts.health.components()}
            state = opts.health.status()
        try:
            devices = len(ctx.service.summaries())
        except Exception as exc:  # noqa: BLE001 - health reports, it does not raise
            devices = 0
            state = "failed" if state == "failed" else "degraded"
            components["store"] = {"status": "degraded", "reason": f"cannot read the store: {exc}", "since": 0.0,
                                   "faults": 1}
        body = {"status": state, "store": type(ctx.service.store).__name__, "devices": devices,
                "live_clients": ctx.feed.clients, "components": components}
        if state != "ok":
            return JSONResponse(body, 503)  # type: ignore[return-value]
        return body

    @api.get("/metrics", dependencies=ctx.guarded, responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text format"},
        401: ERRORS[401]})
    def metrics() -> Response:
        text = generate_latest(opts.registry) if opts.registry is not None else b""
        text += generate_latest(extra_registry)
        return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")

    return api
