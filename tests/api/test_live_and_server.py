"""Live power over SSE from a real server on a loopback port; the token rule for other addresses."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import httpx
import orjson
import pytest
from apidata import NOW_MS, ZONES

from energymon.api import ApiOptions, WebServer, create_app
from energymon.domain.reading import Reading
from energymon.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from energymon.adapters.local.store import SqliteStore


def events(response: httpx.Response) -> Iterator[tuple[str, dict]]:
    name = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: ") and name:
            yield name, orjson.loads(line[6:])


@pytest.fixture
def server(store: SqliteStore) -> Iterator[WebServer]:
    app = create_app(store, ApiOptions(ZONES.__getitem__, live_interval_s=0.2))
    web = WebServer(app, "127.0.0.1", 0)
    web.start()
    yield web
    web.stop()


def test_live_stream_sends_the_latest_power_then_new_readings(server: WebServer, store: SqliteStore) -> None:
    with httpx.stream("GET", f"{server.url}api/live", params={"device": "apt-1"}, timeout=10) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = events(response)
        assert next(stream)[0] == "hello"
        name, first = next(e for e in stream if e[0] == "power")
        assert first["points"] == [[NOW_MS - 10_000, first["power_w"]]]
        # WHEN two new readings arrive THEN both come through, in order, and only for this device.
        store.add_readings("apt-1", [Reading("apt-1", NOW_MS + 1000, power_w=1234.0),
                                     Reading("apt-1", NOW_MS + 2000, power_w=2345.0)])
        store.add_readings("apt-2", [Reading("apt-2", NOW_MS + 1000, power_w=9.0)])
        seen = []
        deadline = time.monotonic() + 5
        for name, data in stream:
            assert data.get("device_id", "apt-1") == "apt-1"
            if name == "power":
                seen += data["points"]
            if len(seen) >= 2 or time.monotonic() > deadline:
                break
        assert seen == [[NOW_MS + 1000, 1234.0], [NOW_MS + 2000, 2345.0]]


def test_live_stream_without_a_device_carries_all_and_ticks(server: WebServer) -> None:
    with httpx.stream("GET", f"{server.url}api/live", timeout=10) as response:
        devices, ticks = set(), 0
        for name, data in events(response):
            if name == "power":
                devices.add(data["device_id"])
            ticks += name == "tick"
            if ticks >= 2:
                break
    assert devices == {"apt-1", "apt-2"}


def test_server_stops_while_a_client_is_streaming(store: SqliteStore) -> None:
    web = WebServer(create_app(store, ApiOptions(live_interval_s=0.2)), "127.0.0.1", 0)
    web.start()
    with httpx.stream("GET", f"{web.url}api/live", timeout=10) as response:
        next(events(response))
        started = time.monotonic()
        web.stop()
        assert time.monotonic() - started < 5
    assert not web._thread or not web._thread.is_alive()


def test_taken_port_falls_back_to_a_free_one(store: SqliteStore, server: WebServer) -> None:
    second = WebServer(create_app(store), "127.0.0.1", server.port)
    second.start()
    try:
        assert second.port != server.port and str(server.port) in second.note
        assert httpx.get(f"{second.url}healthz").json()["status"] == "ok"
    finally:
        second.stop()


def test_non_loopback_address_needs_a_token(store: SqliteStore) -> None:
    with pytest.raises(ConfigError, match="API token"):
        WebServer(create_app(store), "0.0.0.0", 0)


def test_token_guards_the_api_but_not_health_or_the_page(store: SqliteStore) -> None:
    from energymon.config import load_settings

    with pytest.raises(ConfigError, match="api_token"):
        load_settings(web_host="0.0.0.0")
    app = create_app(store, ApiOptions(ZONES.__getitem__, api_token="s3cret"))
    web = WebServer(app, "127.0.0.1", 0, api_token="s3cret")
    web.start()
    try:
        url = web.url
        denied = httpx.get(f"{url}api/devices")
        assert denied.status_code == 401 and denied.json()["error"]["parameter"] == "token"
        assert httpx.get(f"{url}metrics").status_code == 401
        assert httpx.get(f"{url}api/devices", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(f"{url}api/devices", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert httpx.get(f"{url}healthz").status_code == 200
        # The page opened with ?token= sets a cookie, so the dashboard's own requests (and SSE) pass.
        with httpx.Client(base_url=url) as browser:
            assert browser.get("/", params={"token": "s3cret"}).status_code == 200
            assert browser.get("/api/devices").status_code == 200
    finally:
        web.stop()
