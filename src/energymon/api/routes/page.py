"""The dashboard: its page (which turns a ``?token=`` into a cookie), its script and style, and Plotly, served
locally (no CDN)."""

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from energymon.api.context import TOKEN_COOKIE

if TYPE_CHECKING:
    from energymon.api.context import ApiContext

__all__ = ["router"]

_STATIC = Path(str(resources.files("energymon.api") / "static"))
_FILES = {"app.js": "text/javascript", "style.css": "text/css"}


def _plotly_path() -> Path:
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def router(ctx: "ApiContext") -> APIRouter:
    api = APIRouter(include_in_schema=False)

    @api.get("/")
    def dashboard(request: Request) -> Response:
        response = HTMLResponse((_STATIC / "index.html").read_text())
        token = request.query_params.get("token")
        if ctx.auth_required and ctx.token_ok(token):
            # Secure where the page came over HTTPS (the hosted API): the cookie never travels in clear there.
            response.set_cookie(TOKEN_COOKIE, token or "", httponly=True, samesite="strict",
                                secure=request.url.scheme == "https")
        return response

    @api.get("/static/plotly.min.js")
    def plotly_js() -> Response:
        return FileResponse(_plotly_path(), media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    @api.get("/static/{name}")
    def static(name: str) -> Response:
        path = _STATIC / name
        if name not in _FILES or not path.is_file():
            return JSONResponse({"error": {"parameter": "name", "message": f"no such file {name!r}"}}, 404)
        return FileResponse(path, media_type=_FILES[name])

    return api
