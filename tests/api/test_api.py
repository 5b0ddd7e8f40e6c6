"""Every endpoint and every error, over a SQLite store holding known data (clock fixed at 2026-03-29 12:00 Berlin)."""

from __future__ import annotations

import pytest
from apidata import MIN, NOW_MS, local_ms


def test_healthz_reports_the_store(client) -> None:
    body = client.get("/healthz").json()
    assert body == {"status": "ok", "store": "SqliteStore", "devices": 2, "live_clients": 0, "components": {}}


def test_healthz_names_a_degraded_or_failed_component_and_answers_503(store, tmp_path) -> None:
    import threading

    from fastapi.testclient import TestClient

    from energymon.api import ApiOptions, create_app
    from energymon.health import Health

    # GIVEN a runtime whose bridge writer is retrying a full disk
    health = Health()
    health.degraded("bridge-writer", "cannot append to the stream: database or disk is full")
    client = TestClient(create_app(store, ApiOptions(health=health)))
    # THEN health is not 200 and says which part and why
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["components"]["bridge-writer"]["reason"] == "cannot append to the stream: database or disk is full"
    # WHEN a watched thread has died
    dead = threading.Thread(target=lambda: None, name="poller-shardId-000000000000")
    dead.start()
    dead.join()
    health.watch("poller-shardId-000000000000", dead)
    # THEN the runtime is failed, naming the thread, even though the other fault has cleared
    health.ok("bridge-writer")
    body = client.get("/healthz").json()
    assert body["status"] == "failed"
    assert body["components"]["poller-shardId-000000000000"]["status"] == "failed"
    assert "has stopped" in body["components"]["poller-shardId-000000000000"]["reason"]


def test_devices_have_last_seen_and_status(client) -> None:
    devices = {d["device_id"]: d for d in client.get("/api/devices").json()}
    apt1, apt2 = devices["apt-1"], devices["apt-2"]
    assert apt1["status"] == "online" and apt1["timezone"] == "Europe/Berlin"
    assert apt1["last_seen_ms"] == NOW_MS - 10_000
    assert apt1["last_seen"].startswith("2026-03-29T11:59:50+02:00")
    assert apt2["status"] == "stale"  # an hour ago, beyond the 10-minute window
    assert apt2["power_w"] == 500.0


def test_raw_power_has_a_null_where_readings_stopped(client) -> None:
    body = client.get("/api/devices/apt-1/power", params={"resolution": "raw"}).json()
    points = body["points"]
    assert body["to_ms"] == NOW_MS and body["from_ms"] == NOW_MS - 15 * MIN
    assert [p for p in points if p["power_w"] is None] == []  # the hole ends exactly 15 min ago
    wider = client.get("/api/devices/apt-1/power", params={"from": NOW_MS - 30 * MIN}).json()["points"]
    nulls = [p for p in wider if p["power_w"] is None]
    assert len(nulls) == 1 and NOW_MS - 20 * MIN - 10_000 < nulls[0]["t"] < NOW_MS - 15 * MIN
    assert len(wider) == 150 + 1  # 180 readings every 10 s minus 30 in the hole, plus the gap marker


def test_power_per_minute_is_average_watts_with_gaps(client) -> None:
    body = client.get("/api/devices/apt-1/power", params={
        "resolution": "minute", "from": "2026-03-27T23:58", "to": "2026-03-28T00:02"}).json()
    assert [p["power_w"] for p in body["points"]] == [60.0, 60.0, None, None]
    assert body["points"][0]["peak_w"] == 80.0


def test_energy_per_day_follows_the_local_dst_day_and_flags_gaps(client) -> None:
    body = client.get("/api/devices/apt-1/energy", params={
        "period": "day", "from": "2026-03-27", "to": "2026-03-30"}).json()
    rows = {p["start"]: p for p in body["periods"]}
    assert list(rows) == ["2026-03-27", "2026-03-28", "2026-03-29"]
    assert rows["2026-03-27"]["import_kwh"] == pytest.approx(1.44)
    assert rows["2026-03-28"]["gap"] and rows["2026-03-28"]["import_kwh"] is None
    # 00:00 to 12:00 on the spring-forward day is 11 hours of data, not 12.
    assert rows["2026-03-29"]["import_kwh"] == pytest.approx(0.66)
    assert rows["2026-03-29"]["partial"] and not rows["2026-03-27"]["partial"]
    assert body["gaps"] == 1 and body["total_import_kwh"] == pytest.approx(2.1)


def test_energy_per_hour_skips_the_missing_local_hour(client) -> None:
    body = client.get("/api/devices/apt-1/energy", params={
        "period": "hour", "from": "2026-03-29", "to": "2026-03-29T12:00"}).json()
    starts = [p["start"] for p in body["periods"]]
    assert len(starts) == 11 and "2026-03-29T02:00+01:00" not in starts
    assert starts[2] == "2026-03-29T03:00+02:00"
    assert all(p["import_kwh"] == pytest.approx(0.06) for p in body["periods"])


def test_energy_per_minute_and_month(client) -> None:
    minutes = client.get("/api/devices/apt-1/energy", params={
        "period": "minute", "from": local_ms(2026, 3, 27, 10), "to": local_ms(2026, 3, 27, 10, 5)}).json()
    assert [p["import_kwh"] for p in minutes["periods"]] == [0.001] * 5
    months = client.get("/api/devices/apt-1/energy", params={
        "period": "month", "from": "2026-02-01", "to": "2026-04-01"}).json()
    assert [(p["start"], p["gap"]) for p in months["periods"]] == [("2026-02", True), ("2026-03", False)]
    assert months["periods"][1]["import_kwh"] == pytest.approx(2.1)


def test_energy_per_hour_in_another_zone_is_labelled_there(client) -> None:
    body = client.get("/api/devices/apt-1/energy", params={
        "period": "hour", "from": "2026-03-27T09:00Z", "to": "2026-03-27T11:00Z", "tz": "UTC"}).json()
    assert body["timezone"] == "UTC"
    assert [p["start"] for p in body["periods"]] == ["2026-03-27T09:00+00:00", "2026-03-27T10:00+00:00"]
    assert [p["import_kwh"] for p in body["periods"]] == [0.06, 0.06]


def test_today_for_one_device_and_for_all(client) -> None:
    today = client.get("/api/devices/apt-1/today").json()
    assert today["day"] == "2026-03-29" and today["import_kwh"] == pytest.approx(0.66)
    assert today["peak_power_w"] == 80.0 and today["cost"] is None
    everyone = {t["device_id"]: t for t in client.get("/api/today").json()}
    assert everyone["apt-1"] == today and everyone["apt-2"]["import_kwh"] == 0


def test_metrics_in_prometheus_format(client) -> None:
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert "energymon_readings_processed_total 0.0" in response.text
    assert "energymon_readings_rejected_total" in response.text


def test_dashboard_and_plotly_are_served_locally(client) -> None:
    page = client.get("/")
    assert "/static/plotly.min.js" in page.text and "cdn" not in page.text.lower()
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/nothing.js").status_code == 404


def test_openapi_schema_is_published(client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/devices", "/api/devices/{device_id}/power", "/api/devices/{device_id}/energy",
                 "/api/devices/{device_id}/today", "/api/today", "/api/live", "/metrics", "/healthz"):
        assert path in paths


@pytest.mark.parametrize(("path", "params", "status", "parameter"), [
    ("/api/devices/nope/power", {}, 404, "device_id"),
    ("/api/devices/nope/energy", {}, 404, "device_id"),
    ("/api/devices/nope/today", {}, 404, "device_id"),
    ("/api/live", {"device": "nope"}, 404, "device_id"),
    ("/api/devices/apt-1/energy", {"from": "2026-03-29", "to": "2026-03-28"}, 422, "to"),
    ("/api/devices/apt-1/power", {"from": "2026-03-29", "to": "2026-03-29"}, 422, "to"),
    ("/api/devices/apt-1/power", {"from": "2026-03-28"}, 422, "from"),  # 36 h of raw readings
    ("/api/devices/apt-1/power", {"resolution": "minute", "from": "2026-01-01"}, 422, "from"),
    ("/api/devices/apt-1/energy", {"period": "minute", "from": "2026-03-01"}, 422, "from"),
    ("/api/devices/apt-1/energy", {"period": "hour", "from": "2025-01-01"}, 422, "from"),
    ("/api/devices/apt-1/energy", {"tz": "Mars/Olympus_Mons"}, 422, "tz"),
    ("/api/devices/apt-1/power", {"tz": "Nowhere"}, 422, "tz"),
    ("/api/devices/apt-1/energy", {"period": "day", "tz": "UTC"}, 422, "tz"),  # days are cut in the device's zone
    ("/api/devices/apt-1/energy", {"from": "yesterday"}, 422, "from"),
    ("/api/devices/apt-1/energy", {"to": "2026-13-01"}, 422, "to"),
    ("/api/devices/apt-1/energy", {"from": "1960-01-01", "period": "month"}, 422, "from"),
    ("/api/devices/apt-1/energy", {"period": "week"}, 422, "period"),
    ("/api/devices/apt-1/power", {"resolution": "second"}, 422, "resolution"),
])
def test_bad_parameters_answer_4xx_naming_the_parameter(client, path, params, status, parameter) -> None:
    response = client.get(path, params=params)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["parameter"] == parameter and error["message"]
