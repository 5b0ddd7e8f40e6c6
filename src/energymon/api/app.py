"""The HTTP API and dashboard: ``create_app`` composes the routers over one query service.

It works the same over the SQLite store and any other ``StoreReader``: every number comes from
:class:`energymon.application.QueryService`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from energymon.api.context import ApiContext, ApiOptions
from energymon.api.params import BadParameter
from energymon.api.routes import alerts, devices, energy, live, ops, overview, page, power

if TYPE_CHECKING:
    from energymon.ports import StoreReader

__all__ = ["ApiOptions", "create_app"]


def create_app(store: StoreReader, options: ApiOptions | None = None) -> FastAPI:
    ctx = ApiContext.build(store, options or ApiOptions())
    app = FastAPI(
        title="energymon",
        version="1",
        description="Home energy: devices, power, energy per local period, live power (SSE), metrics.",
    )
    app.state.feed = ctx.feed
    app.add_exception_handler(BadParameter, _bad_parameter)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    for module in (ops, devices, power, energy, overview, live, alerts, page):
        app.include_router(module.router(ctx))
    return app


async def _bad_parameter(_request: Request, exc: BadParameter) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return JSONResponse({"error": {"parameter": exc.parameter, "message": exc.message}}, exc.status, headers=headers)


async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body", "header")]
    parameter = loc[0] if loc else None
    return JSONResponse({"error": {"parameter": parameter, "message": f"{parameter}: {first['msg']}"}}, 422)
