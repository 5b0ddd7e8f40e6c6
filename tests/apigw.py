"""API Gateway HTTP API (payload format 2.0) for tests: the event a request becomes, and a tiny HTTP server
that turns each browser request into such an event, calls a Lambda handler and writes its answer back.

Shapes from the API Gateway developer guide ("Working with AWS Lambda proxy integrations for HTTP APIs"):
cookies arrive in ``cookies`` (not in ``headers``), the query string in ``rawQueryString``, and the answer's
``cookies`` become ``Set-Cookie`` headers.
"""

from __future__ import annotations

import asyncio
import base64
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

if TYPE_CHECKING:
    from collections.abc import Iterator

DOMAIN = "abc123.execute-api.us-east-1.amazonaws.com"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def event(method: str, target: str, headers: dict[str, str] | None = None,
          cookies: list[str] | None = None, body: bytes | None = None) -> dict[str, Any]:
    parts = urlsplit(target)
    lowered = {k.lower(): v for k, v in (headers or {}).items() if k.lower() != "cookie"}
    lowered.setdefault("host", DOMAIN)
    lowered.setdefault("x-forwarded-proto", "https")
    lowered.setdefault("x-forwarded-port", "443")
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value  # how API Gateway joins repeats
    now = time.time()
    out: dict[str, Any] = {
        "version": "2.0", "routeKey": "$default", "rawPath": parts.path or "/", "rawQueryString": parts.query,
        "headers": lowered,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": DOMAIN, "domainPrefix": "abc123",
            "http": {"method": method, "path": parts.path or "/", "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1",
                     "userAgent": lowered.get("user-agent", "test")},
            "requestId": uuid.uuid4().hex, "routeKey": "$default", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if query:
        out["queryStringParameters"] = query
    if cookies:
        out["cookies"] = cookies
    if body:
        out["body"] = base64.b64encode(body).decode()
        out["isBase64Encoded"] = True
    return out


def body_of(response: dict[str, Any]) -> bytes:
    raw = response.get("body") or ""
    return base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()


class _Gateway(BaseHTTPRequestHandler):
    handler: Handler

    def do_GET(self) -> None:
        cookies = [c.strip() for c in self.headers.get("Cookie", "").split(";") if c.strip()]
        headers = {k: v for k, v in self.headers.items()}
        response = type(self).handler(event("GET", self.path, headers, cookies), None)
        self.send_response(int(response["statusCode"]))
        for name, value in (response.get("headers") or {}).items():
            if name.lower() not in {"content-length", "transfer-encoding", "connection"}:
                self.send_header(name, value)
        for cookie in response.get("cookies") or []:
            self.send_header("Set-Cookie", cookie)
        payload = body_of(response)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return


def serve(handler: Handler) -> Iterator[str]:
    """A loopback HTTP server in front of ``handler`` (a generator: yields its URL, then stops).

    One request at a time in one thread with its own event loop, as one Lambda container handles them.
    """
    gateway = type("Gateway", (_Gateway,), {"handler": staticmethod(handler)})
    server = HTTPServer(("127.0.0.1", 0), gateway)

    def run() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())  # Mangum runs the app on the thread's loop
        server.serve_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
