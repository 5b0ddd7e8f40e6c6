"""The Grafana provisioning folder and the per-device gauges it reads.

GIVEN a data directory filled through the local runtime's processor (two devices, one of whose meters is reset)
and the runtime's web server over it on a loopback port,
THEN the dashboard JSON is importable anywhere (its datasources are variables), every PromQL query in it names
only metrics the real /metrics exposes, every API query names a path and parameters in the app's OpenAPI and
finds the fields it reads, and the gauges equal what ``energymon query`` says — across the meter reset too.
"""

from __future__ import annotations

import copy
import re
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from energymon.adapters.local.store import SqliteStore
from energymon.api.device_metrics import DeviceCollector
from energymon.application.queries import QueryService
from energymon.domain.energy import MinuteEnergy
from energymon.domain.reading import Reading
from grafana_rig import (
    DASHBOARD,
    GRAFANA,
    RESET_DEVICE,
    ZONES,
    Seeded,
    api_paths,
    cli_query,
    dashboard,
    local_day,
    metric_names,
    panels,
    promql_queries,
    sample,
    sample_names,
    scrape,
    seed,
    serve,
    targets,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from energymon.api import WebServer

PLUGINS = {"DS_PROMETHEUS": "prometheus", "DS_ENERGYMON_API": "yesoreyeram-infinity-datasource"}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed(tmp_path_factory.mktemp("grafana"))


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[WebServer]:
    yield from serve(seeded)


@pytest.fixture(scope="module")
def exposed(web: WebServer) -> dict[str, Any]:
    return scrape(web.url)


# ----------------------------------------------------------------------------------- structure (no server)
def _datasource_refs(node: Any, where: str = "$") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield where, value
            yield from _datasource_refs(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _datasource_refs(value, f"{where}[{i}]")


def test_the_dashboard_has_what_grafana_needs_to_import_it() -> None:
    board = dashboard()
    # THEN it has a stable uid, a title and a schema version Grafana 10+ migrates from
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", board["uid"]), board["uid"]
    assert board["title"].strip()
    assert isinstance(board["schemaVersion"], int) and board["schemaVersion"] >= 36
    assert "id" not in board or board["id"] is None, "an instance id would clash on import"
    ids = [p["id"] for p in panels(board)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    # AND every panel sits on the 24-column grid without overlapping another
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(board):
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("h", "w", "x", "y")), panel["title"]
        assert grid["w"] >= 1 and grid["h"] >= 1 and 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]
    # AND every panel that is not a row asks at least one query
    for panel in panels(board):
        if panel["type"] != "row":
            assert panel.get("targets"), f"panel {panel['title']!r} has no query"


def test_every_datasource_is_a_variable_so_the_dashboard_imports_anywhere() -> None:
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    # GIVEN one datasource variable per plugin the dashboard uses
    for name, plugin in PLUGINS.items():
        assert variables[name]["type"] == "datasource" and variables[name]["query"] == plugin
    refs = list(_datasource_refs(board))
    assert refs
    for where, ref in refs:
        # THEN every reference names its plugin and points at that plugin's variable, never at a fixed uid
        assert isinstance(ref, dict), f"{where}: a datasource given by name ({ref!r}) only works where it exists"
        uid = ref.get("uid", "")
        match = re.fullmatch(r"\$\{(\w+)\}", uid)
        assert match, f"{where}: hard-coded datasource uid {uid!r}"
        assert PLUGINS.get(match[1]) == ref["type"], f"{where}: {ref} does not match variable ${match[1]}"
    # AND every query of every panel has one
    for panel, target in targets(board):
        assert "datasource" in target, f"panel {panel['title']!r} target {target['refId']} has no datasource"


def test_the_provisioning_files_name_the_plugins_the_dashboard_uses() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/energymon.yaml").read_text())
    assert datasources["apiVersion"] == 1
    assert {d["type"] for d in datasources["datasources"]} == set(PLUGINS.values())
    for d in datasources["datasources"]:
        assert d["access"] == "proxy" and d["url"].startswith("${"), d  # the URL comes from Grafana's environment
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/energymon.yaml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
    assert DASHBOARD.name.endswith(".json")


# ----------------------------------------------------------------------------- queries against the server
def missing_metrics(board: dict[str, Any], names: set[str], device: str) -> list[str]:
    """One line per metric a dashboard query names that /metrics does not expose."""
    problems = []
    for where, expr in promql_queries(board, device):
        used = metric_names(expr)
        assert used, f"{where}: {expr!r} selects no metric"
        problems += [f"{where}: {name} is not exposed" for name in sorted(used - names)]
    return problems


def test_every_promql_query_names_a_metric_that_metrics_exposes(exposed: dict[str, Any]) -> None:
    board = dashboard()
    names = sample_names(exposed)
    # WHEN every expression of the dashboard is parsed as PromQL
    queries = promql_queries(board, RESET_DEVICE)
    assert len(queries) >= 10
    # THEN each one selects only metrics the running API exposes
    assert missing_metrics(board, names, RESET_DEVICE) == []
    used = set().union(*(metric_names(expr) for _, expr in queries))
    assert {"energymon_device_power_watts", "energymon_device_energy_today_kwh", "energymon_device_energy_kwh",
            "energymon_device_cost_today"} <= used


def test_a_renamed_metric_is_caught(exposed: dict[str, Any]) -> None:
    # GIVEN the dashboard as it would be after a metric was renamed on one side only
    board = copy.deepcopy(dashboard())
    for _, target in targets(board):
        if "expr" in target:
            target["expr"] = target["expr"].replace("energymon_device_power_watts", "energymon_device_power_w")
    # THEN the check names every query that lost its metric
    problems = missing_metrics(board, sample_names(exposed), RESET_DEVICE)
    assert problems and all("energymon_device_power_w is not exposed" in p for p in problems)
    assert any("'Power now'" in p for p in problems)
    # AND an expression that is not PromQL fails to parse rather than passing unnoticed
    with pytest.raises(ValueError):
        metric_names("energymon_device_power_watts{device=")


def _operation(spec: dict[str, Any], path: str) -> tuple[str, dict[str, Any]] | None:
    for template, item in spec["paths"].items():
        if "get" in item and re.fullmatch(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)), path):
            return template, item["get"]
    return None


def test_every_api_query_names_an_endpoint_in_the_openapi_and_reads_fields_it_returns(web: WebServer) -> None:
    board = dashboard()
    spec = httpx.get(f"{web.url}openapi.json", timeout=30).json()
    queries = [(where, path, target) for (where, path), (_, target)
               in zip(api_paths(board, RESET_DEVICE), [t for t in targets(board) if "url" in t[1]], strict=True)]
    assert len(queries) >= 3
    for where, path, target in queries:
        # THEN the path is one of the app's GET operations
        found = _operation(spec, path)
        assert found, f"{where}: {path} is not in the OpenAPI"
        template, operation = found
        # AND every query parameter it sends is one that operation declares
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        sent = {p["key"] for p in target["url_options"]["params"]}
        assert sent <= declared, f"{where}: {template} does not take {sorted(sent - declared)}"
        # AND asked over HTTP for the last two days, it answers with the fields the panel reads
        now_ms = int(httpx.get(f"{web.url}api/devices/{RESET_DEVICE}/today", timeout=30).json()["last_seen_ms"])
        params = {p["key"]: p["value"] for p in target["url_options"]["params"]}
        params.update({"from": str(now_ms - 2 * 86_400_000), "to": str(now_ms)})
        response = httpx.get(f"{web.url}{path.lstrip('/')}", params=params, timeout=30)
        assert response.status_code == 200, (where, response.text)
        rows = response.json()[target["root_selector"]]
        assert rows, f"{where}: no rows"
        for column in target["columns"]:
            assert column["selector"] in rows[0], f"{where}: the answer has no {column['selector']!r}"
            assert any(r[column["selector"]] is not None for r in rows), f"{where}: {column['selector']} always null"


# ------------------------------------------------------------------------------------ the gauges' values
def test_the_gauges_equal_energymon_query_across_a_meter_reset(seeded: Seeded, web: WebServer) -> None:
    for _attempt in range(2):  # a local midnight between the scrape and the CLI changes "today": ask again
        days = {device: local_day(device) for device in ZONES}
        families = scrape(web.url)
        cli = {device: cli_query(seeded, device, "2026-01-01", "2100-01-01") for device in ZONES}
        if days == {device: local_day(device) for device in ZONES}:
            break
    devices = {d["device_id"]: d for d in httpx.get(f"{web.url}api/devices", timeout=30).json()}
    assert sample(families, "energymon_device_metrics_up") == 1
    assert sample(families, "energymon_device_metrics_omitted_devices") == 0
    for device in ZONES:
        rows = {r["period"]: r for r in cli[device]["periods"]}
        assert len(rows) >= 2, "the data spans two local days"
        # THEN the lifetime gauge is the sum of every day energymon query lists, import and export
        lifetime = sample(families, "energymon_device_energy_kwh", device=device, direction="import")
        assert lifetime == pytest.approx(sum(r["import_kwh"] for r in rows.values()), abs=1e-6)
        assert sample(families, "energymon_device_energy_kwh", device=device, direction="export") == 0
        # AND today's energy and cost are the CLI's row for the device's local today
        today = rows[days[device]]
        assert sample(families, "energymon_device_energy_today_kwh", device=device,
                      direction="import") == pytest.approx(today["import_kwh"], abs=1e-6)
        assert sample(families, "energymon_device_cost_today", device=device,
                      currency="EUR") == pytest.approx(float(today["cost"]), abs=1e-4)
        # AND the live power and last-seen gauges are the device's latest reading
        assert sample(families, "energymon_device_power_watts", device=device) == devices[device]["power_w"]
        assert sample(families, "energymon_device_last_seen_timestamp_seconds",
                      device=device) == devices[device]["last_seen_ms"] / 1000
        assert sample(families, "energymon_device_online", device=device) == (devices[device]["status"] == "online")
    # AND where the meter's own counter was reset, the raw counter fell but the derived energy did not
    reset_lifetime_wh = sample(families, "energymon_device_energy_kwh", device=RESET_DEVICE, direction="import") * 1000
    assert devices[RESET_DEVICE]["energy_wh"] < seeded.counter_at_reset_wh / 100
    # ... and holds the energy really used, without a spike or a loss at the reset (one minute's worth at most)
    assert reset_lifetime_wh == pytest.approx(seeded.used_wh, abs=15)


def test_the_gauges_follow_prometheus_naming(exposed: dict[str, Any]) -> None:
    for name, family in exposed.items():
        if name.startswith("energymon_device"):
            # THEN they are gauges, with a unit in the name where they have one, and none ends in _total
            assert family.type == "gauge", name
            assert not name.endswith("_total"), name
    assert {"energymon_device_power_watts", "energymon_device_energy_kwh", "energymon_device_energy_today_kwh",
            "energymon_device_last_seen_timestamp_seconds"} <= set(exposed)


# ------------------------------------------------------------------------------- bounds and bad input
def _collect(collector: DeviceCollector) -> dict[str, Any]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {f.name: f for f in text_string_to_metric_families(text)}


def _service(seeded: Seeded, store: SqliteStore) -> QueryService:
    return QueryService(store, ZONES.__getitem__)


def test_the_number_of_devices_is_bounded_and_the_rest_counted(seeded: Seeded) -> None:
    store = SqliteStore(seeded.data_dir / "store.db")
    # GIVEN a cap of one device
    families = _collect(DeviceCollector(_service(seeded, store), max_devices=1))
    # THEN only the first device (in id order) has series, and the one left out is counted
    devices = {s.labels["device"] for f in families.values() for s in f.samples if "device" in s.labels}
    assert devices == {"flat-1"}
    assert sample(families, "energymon_device_metrics_omitted_devices") == 1
    # AND a cap below one is refused with the reason
    with pytest.raises(ValueError, match="max_devices must be at least 1, got 0"):
        DeviceCollector(_service(seeded, store), max_devices=0)


def test_a_store_that_cannot_be_read_is_reported_and_the_scrape_still_answers(tmp_path: Path) -> None:
    # GIVEN a store whose devices table has gone (a damaged or foreign file)
    store = SqliteStore(tmp_path / "store.db")
    with sqlite3.connect(tmp_path / "store.db") as con:
        con.execute("DROP TABLE devices")
    families = _collect(DeviceCollector(QueryService(store, lambda _d: "UTC")))
    # THEN the scrape carries energymon_device_metrics_up 0 and no device series, instead of failing
    assert sample(families, "energymon_device_metrics_up") == 0
    assert not any(name.startswith("energymon_device_power") for name in families)


def test_the_days_before_today_are_summed_again_once_their_cache_expires(tmp_path: Path) -> None:
    # GIVEN a device with an hour of energy yesterday (UTC) and a reading now
    store = SqliteStore(tmp_path / "store.db")
    now_ms = int(time.time() * 1000) // 60_000 * 60_000
    yesterday = (now_ms // 86_400_000 - 1) * 86_400_000
    store.add_readings("d", [Reading("d", now_ms, power_w=100.0, energy_wh=1.0)])

    def hour_of_energy(start_ms: int) -> None:
        minutes = [MinuteEnergy(m, 1000, 0, 60.0, 1) for m in range(start_ms, start_ms + 3_600_000, 60_000)]
        store.replace_minutes("d", start_ms, start_ms + 3_600_000, minutes, "UTC")

    hour_of_energy(yesterday)
    cached = DeviceCollector(QueryService(store, lambda _d: "UTC"), history_ttl_s=3600)
    assert sample(_collect(cached), "energymon_device_energy_kwh", device="d", direction="import") == 0.06
    # WHEN late data adds a second hour to yesterday
    hour_of_energy(yesterday + 3_600_000)
    # THEN a collector within its cache time still shows the sum it made; one past it shows the new total
    assert sample(_collect(cached), "energymon_device_energy_kwh", device="d", direction="import") == 0.06
    fresh = DeviceCollector(QueryService(store, lambda _d: "UTC"), history_ttl_s=0)
    assert sample(_collect(fresh), "energymon_device_energy_kwh", device="d", direction="import") == 0.12
    with pytest.raises(ValueError, match="history_ttl_s must be 0 or more, got -1"):
        DeviceCollector(QueryService(store, lambda _d: "UTC"), history_ttl_s=-1)
