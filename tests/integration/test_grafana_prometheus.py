"""A real Prometheus (Debian's package) scrapes the runtime's /metrics with the shipped scrape job, and every
PromQL query of the Grafana dashboard is run against it: each must parse, run, and return data.

GIVEN the data directory of the Grafana tests and the runtime's web server over it,
WHEN Prometheus has scraped it a few times,
THEN every dashboard query answers with series, the energy Prometheus holds equals ``energymon query``, and
``promtool check metrics`` finds nothing to say about energymon's metric names.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

from energymon.adapters.mqtt.broker import free_port
from grafana_rig import GRAFANA, RESET_DEVICE, ZONES, Seeded, cli_query, dashboard, promql_queries, seed, serve

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from energymon.api import WebServer

pytestmark = pytest.mark.integration

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed(tmp_path_factory.mktemp("grafana-prom"))


@pytest.fixture(scope="module")
def web(seeded: Seeded) -> Iterator[WebServer]:
    yield from serve(seeded)


def _query(base: str, expr: str) -> dict[str, Any]:
    body = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert body["status"] == "success", (expr, body)
    return body["data"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def prometheus(web: WebServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir: Path = tmp_path_factory.mktemp("prometheus")
    # The shipped scrape job, pointed at this server and scraping every second (the test's only change).
    config = yaml.safe_load((GRAFANA / "prometheus" / "energymon-scrape.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    (job,) = config["scrape_configs"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{web.port}"]}]
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={workdir / 'prometheus.yml'}", f"--storage.tsdb.path={workdir / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # ready, and at least three scrapes of the job (rate() needs two points)
            assert process.poll() is None, (workdir / "prometheus.log").read_text()[-2000:]
            try:
                result = _query(base, 'count_over_time(up{job="energymon"}[5m])')["result"]
                if result and float(result[0]["value"][1]) >= 3:
                    break
            except (httpx.HTTPError, ValueError):  # not listening yet, or 503 text until the TSDB is up
                pass
            assert time.monotonic() < deadline, "Prometheus did not scrape energymon three times in 60 s"
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def test_every_dashboard_query_runs_on_a_real_prometheus_and_returns_data(prometheus: str) -> None:
    assert float(_query(prometheus, 'up{job="energymon"}')["result"][0]["value"][1]) == 1
    for device in ZONES:
        for where, expr in promql_queries(dashboard(), device):
            data = _query(prometheus, expr)
            # THEN each query runs and finds series (the device variable's too: it lists both devices)
            assert data["result"], f"{where}: {expr!r} returned nothing"
    devices = _query(prometheus, "count by (device) (energymon_device_energy_kwh)")["result"]
    assert {r["metric"]["device"] for r in devices} == set(ZONES)


def test_the_energy_prometheus_holds_equals_energymon_query(prometheus: str, seeded: Seeded) -> None:
    cli = cli_query(seeded, RESET_DEVICE, "2026-01-01", "2100-01-01")
    result = _query(prometheus, f'energymon_device_energy_kwh{{device="{RESET_DEVICE}", direction="import"}}')
    assert float(result["result"][0]["value"][1]) == pytest.approx(sum(r["import_kwh"] for r in cli["periods"]),
                                                                   abs=1e-6)


def test_promtool_finds_nothing_wrong_with_the_metric_names(web: WebServer) -> None:
    text = httpx.get(f"{web.url}metrics", timeout=10).text
    assert "energymon_device_energy_kwh" in text
    # WHEN Prometheus's own linter reads the exposition (units, _total on counters only, snake_case...)
    lint = subprocess.run([PROMTOOL, "check", "metrics"], check=False, input=text.encode(), capture_output=True,
                          timeout=30)
    # THEN it has nothing to say
    assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()
    assert lint.stdout.decode().strip() == ""
