"""``/api/live``: live power as server-sent events (one store poll per tick, shared by every client)."""

from typing import TYPE_CHECKING, Annotated, Any

import anyio
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse

from energymon.api.schemas import ERRORS

if TYPE_CHECKING:
    from energymon.api.context import ApiContext

__all__ = ["router"]

OnlyDevice = Annotated[str | None, Query(description="Only this device")]


def router(ctx: "ApiContext") -> APIRouter:
    api = APIRouter(tags=["power"], dependencies=ctx.guarded)
    responses: dict[int | str, dict[str, Any]] = {
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
              "description": "Events: hello, power {device_id, points: [[t, W]...]}, tick {now_ms} every second"},
        **ERRORS,
    }

    @api.get("/api/live", responses=responses)
    async def live(device: OnlyDevice = None) -> Response:
        """Live power as server-sent events (501 where the host buffers responses: poll the power endpoint)."""
        if not ctx.options.live_streaming:
            return JSONResponse({"error": {"parameter": None, "message": (
                "live streaming is not available on this host (responses are buffered, e.g. API Gateway + "
                "Lambda): poll /api/devices/{device_id}/power instead")}}, 501)
        if device is not None:
            await anyio.to_thread.run_sync(ctx.known, device)
        return StreamingResponse(ctx.feed.stream(device), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return api
