"""A uvicorn server in a background thread, with start/stop for the local runtime and ``energymon serve``."""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING

import uvicorn

from energymon.errors import ConfigError
from energymon.net import is_loopback

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["WebServer"]


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: no 40 ms Nagle/delayed-ACK stall on multi-segment responses.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


class WebServer:
    """Serves ``app`` on ``host:port``; if the port is taken, on a free one (``note`` says so).

    Refuses a non-loopback address without an API token: the API would otherwise be open to the network.
    """

    def __init__(
        self, app: FastAPI, host: str = "127.0.0.1", port: int = 8080, *, api_token: str | None = None
    ) -> None:
        if not is_loopback(host) and not api_token:
            raise ConfigError(
                f"serving on {host} (not a loopback address) needs an API token: "
                "set api_token in the config file or ENERGYMON_API_TOKEN"
            )
        self.app = app
        self.host = host
        self.requested_port = port
        self.port = port
        self.note = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def start(self, timeout_s: float = 10.0) -> None:
        try:
            sock = _bind(self.host, self.requested_port)
        except OSError:
            if self.requested_port == 0:
                raise
            sock = _bind(self.host, 0)
            self.note = (f"port {self.requested_port} on {self.host} is taken; "
                         f"the dashboard listens on port {sock.getsockname()[1]} instead")
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, timeout_graceful_shutdown=2,
                                lifespan="off", timeout_keep_alive=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, name="web",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the web server did not start on {self.url}")
            time.sleep(0.02)

    def stop(self, timeout_s: float = 10.0) -> None:
        feed = getattr(self.app.state, "feed", None)
        if feed is not None:
            feed.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
