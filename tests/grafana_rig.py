"""What the Grafana tests share: a data directory filled through the local runtime's own processor (with a
meter reset), the runtime's web server over it, a /metrics scrape, and every query the dashboard makes.

The dashboard's PromQL is parsed with a real PromQL parser (promql-parser, the Rust parser's bindings), so a
renamed metric, a typo in an expression or a query against a metric energymon does not expose fails a test.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import promql_parser
from prometheus_client.parser import text_string_to_metric_families

from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.mqtt.bridge import canonical_to_record
from energymon.config import load_settings
from energymon.domain.reading import Reading, encode_message, telemetry_topic
from energymon.ports import StreamRecord
from energymon.runtimes.local import LocalAdapters, start_web

if TYPE_CHECKING:
    from collections.abc import Iterator

    from energymon.api import WebServer

REPO = Path(__file__).resolve().parents[1]
GRAFANA = REPO / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "energymon.json"

ZONES = {"flat-1": "Asia/Kolkata", "flat-2": "Europe/Berlin"}  # a half-hour zone and a DST one
RESET_DEVICE = "flat-1"
CONFIG = """
[device_timezones]
flat-1 = "Asia/Kolkata"
flat-2 = "Europe/Berlin"

[tariff]
currency = "EUR"
[[tariff.periods]]
from = 2026-01-01
standing_charge_per_day = "0.40"
price_per_kwh = "0.30"
[[tariff.periods.windows]]
days = "all"
start = "23:00"
end = "07:00"
price_per_kwh = "0.15"
"""
STEP_S = 60
HOURS = 30
PER_MESSAGE = 10


@dataclass(frozen=True)
class Seeded:
    data_dir: Path
    config: Path
    reset_at_ms: int
    counter_at_reset_wh: float  # the raw counter's last value before it was reset
    used_wh: float  # the energy the reset device really used (the sum of its counter's steps)


def _readings(device: str, start_ms: int, reset_at_ms: int) -> list[Reading]:
    out = []
    counter = 5_000_000.0 if device == RESET_DEVICE else 7_500_000.0
    for i in range(HOURS * 3600 // STEP_S):
        ts = start_ms + i * STEP_S * 1000
        power = 350 + 250 * math.sin(i / 30) + (100 if device == "flat-2" else 0)
        if device == RESET_DEVICE and ts == reset_at_ms:
            counter = 3.0  # the meter's own counter is reset (EnergyTotal 0, a firmware update...)
        counter += power * STEP_S / 3600
        out.append(Reading(device, ts, power_w=round(power, 1), energy_wh=round(counter, 3)))
    return out


def seed(root: Path) -> Seeded:
    """30 hours of minute readings for two devices up to a minute ago, through the runtime's processor."""
    data_dir = root / "data"
    config = root / "energymon.toml"
    config.write_text(CONFIG)
    now_ms = int(time.time() * 1000) // 60_000 * 60_000
    start_ms = now_ms - HOURS * 3_600_000 - 60_000
    reset_at_ms = start_ms + HOURS // 2 * 3_600_000
    adapters = LocalAdapters(load_settings(config, data_dir=data_dir))
    records = []
    counter_at_reset_wh = used_wh = 0.0
    for device in ZONES:
        readings = _readings(device, start_ms, reset_at_ms)
        if device == RESET_DEVICE:
            counter_at_reset_wh = next(a.energy_wh or 0 for a, b in zip(readings, readings[1:], strict=False)
                                       if b.ts_ms == reset_at_ms)
            used_wh = sum((r.power_w or 0) * STEP_S / 3600 for r in readings[1:])
        for n, i in enumerate(range(0, len(readings), PER_MESSAGE)):
            key, data = canonical_to_record(telemetry_topic(device),
                                            encode_message(device, n, readings[i:i + PER_MESSAGE]))
            records.append(StreamRecord("shardId-000000000000", f"{len(records) + 1:056d}", key, data, time.time()))
    for i in range(0, len(records), 100):
        answer = adapters.processor.handle(kinesis_event(records[i:i + 100], "arn:aws:kinesis:local:0:stream/g"))
        assert not answer["batchItemFailures"], answer
    return Seeded(data_dir, config, reset_at_ms, counter_at_reset_wh, used_wh)


def serve(seeded: Seeded) -> Iterator[WebServer]:
    """The local runtime's own web server (``energymon serve``'s composition) on a free loopback port."""
    settings = load_settings(seeded.config, data_dir=seeded.data_dir, web_port=0)
    web = start_web(settings, LocalAdapters(settings))
    try:
        yield web
    finally:
        web.stop()


def scrape(base_url: str) -> dict[str, Any]:
    """/metrics over HTTP, parsed by prometheus_client's own text parser: {metric family name: family}."""
    response = httpx.get(f"{base_url.rstrip('/')}/metrics", timeout=30)
    response.raise_for_status()
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def sample_names(families: dict[str, Any]) -> set[str]:
    """Every series name a PromQL query can select (``x_total``, ``x_bucket``... as well as gauges' names)."""
    return {sample.name for family in families.values() for sample in family.samples}


def sample(families: dict[str, Any], name: str, **labels: str) -> float:
    found = [s.value for f in families.values() for s in f.samples
             if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, f"{name}{labels}: {len(found)} samples"
    return float(found[0])


def cli_query(seeded: Seeded, device: str, start: str, end: str, resolution: str = "day") -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "energymon.runtimes.cli", "query", "--device", device, "--config", str(seeded.config),
         "--data-dir", str(seeded.data_dir), "--from", start, "--to", end, "--resolution", resolution,
         "--format", "json"],
        capture_output=True, check=True, timeout=60,
    )
    return orjson.loads(out.stdout)  # type: ignore[no-any-return]


def local_day(device: str) -> str:
    return datetime.now(ZoneInfo(ZONES[device])).strftime("%Y-%m-%d")


# ------------------------------------------------------------------------------------------ the dashboard
def dashboard() -> dict[str, Any]:
    return orjson.loads(DASHBOARD.read_bytes())  # type: ignore[no-any-return]


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def targets(board: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in panels(board):
        for target in panel.get("targets", []):
            yield panel, target


_GRAFANA_INTERVALS = re.compile(r"\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}")
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)")
_LABEL_VALUES = re.compile(r"^\s*label_values\((?:(?P<expr>.+),\s*)?(?P<label>\w+)\)\s*$")


def expand(text: str, values: dict[str, str]) -> str:
    """A query as Grafana sends it: its interval macros and template variables replaced."""
    text = _GRAFANA_INTERVALS.sub("5m", text)

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise AssertionError(f"the dashboard uses an undefined variable ${name} in {text!r}")
        return values[name]

    return _VARIABLE.sub(value, text)


def promql_queries(board: dict[str, Any], device: str) -> list[tuple[str, str]]:
    """(where, PromQL) of every Prometheus query: panel targets and the query variables (label_values)."""
    values = {"device": device}
    found = []
    for panel, target in targets(board):
        if target.get("datasource", {}).get("type") == "prometheus":
            found.append((f"panel {panel['title']!r} target {target['refId']}", expand(target["expr"], values)))
    for variable in board["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        match = _LABEL_VALUES.match(query)
        assert match and match["expr"], f"variable {variable['name']}: expected label_values(<metric>, <label>)"
        found.append((f"variable ${variable['name']}", expand(match["expr"], values)))
    return found


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (``{__name__="x"}`` included), from its parsed syntax tree."""
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            names.update(m.value for m in node.matchers.matchers if m.name == "__name__")

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def api_paths(board: dict[str, Any], device: str) -> list[tuple[str, str]]:
    """(where, path) of every Infinity (HTTP API) query, its template variables filled in."""
    values = {"device": device, "__from": "0", "__to": "0"}
    return [(f"panel {panel['title']!r} target {target['refId']}", expand(target["url"], values))
            for panel, target in targets(board)
            if target.get("datasource", {}).get("type") == "yesoreyeram-infinity-datasource"]
