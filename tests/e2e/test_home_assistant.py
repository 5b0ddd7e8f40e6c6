"""Home Assistant MQTT discovery against real brokers: what a Home Assistant subscribed to them would see.

A watcher (a real MQTT client in HA's place) checks every config payload against the keys HA documents
(tests/ha_schema.py) and that the published kWh is what ``energymon query`` says, across a meter reset.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from ha_schema import problems  # noqa: E402

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CONFIG = """
[home_assistant]
discovery = true
interval_s = 1
{extra}

[tariff]
currency = "EUR"
[[tariff.periods]]
from = 2026-01-01
standing_charge_per_day = "0.45"
price_per_kwh = "0.30"

[[alerts.rules]]
name = "kettle-left-on"
kind = "power_above"
device = "*"
threshold_w = 3000
for_s = 60
"""
_ids = itertools.count()
E0_WH = 1_234_567.0  # the meter's counter before the first sample


class Watcher:
    """Subscribed where Home Assistant would be: the discovery prefix and energymon's state topics."""

    def __init__(self, port: int, prefix: str = "homeassistant") -> None:
        self.prefix = prefix
        self.lock = threading.Lock()
        self.configs: dict[str, bytes] = {}  # last payload per config topic (b"": removed)
        self.config_messages = 0
        self.states: dict[str, list[dict[str, Any]]] = {}  # device topic part -> every state seen
        self.status: dict[str, bytes] = {}
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"ha-watcher-{next(_ids)}",
                                  protocol=mqtt.MQTTv311)
        self.client.on_message = self._message
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.subscribe([(f"{prefix}/+/+/+/config", 1), ("energymon/#", 1)])
        self.client.loop_start()

    def _message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            if msg.topic.endswith("/config"):
                self.configs[msg.topic] = bytes(msg.payload)
                self.config_messages += 1
            elif msg.topic.endswith("/state") and msg.payload:
                self.states.setdefault(msg.topic.split("/")[1], []).append(json.loads(msg.payload))
            else:
                self.status[msg.topic] = bytes(msg.payload)

    def live_configs(self, device: str) -> dict[str, dict[str, Any]]:
        with self.lock:
            return {t: json.loads(p) for t, p in self.configs.items() if f"/energymon_{device}/" in t and p}

    def last_state(self, device: str) -> dict[str, Any] | None:
        with self.lock:
            seen = self.states.get(device)
            return seen[-1] if seen else None

    def imports(self, device: str) -> list[float]:
        with self.lock:
            return [s["import_kwh"] for s in self.states.get(device, [])]

    def ha_birth(self) -> None:
        self.client.publish(f"{self.prefix}/status", b"online", qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def readings(device: str, t0_ms: int, first: int, count: int, counter_wh: float, seq: int) -> bytes:
    """``count`` 1 Hz samples at 1800 W whose counter starts at ``counter_wh`` and rises 0.5 Wh a second."""
    samples = [{"ts": _iso(t0_ms + (first + i) * 1000), "power_w": 1800.0, "energy_wh": counter_wh + i * 0.5}
               for i in range(count)]
    return orjson.dumps({"v": 1, "device_id": device, "seq": seq, "samples": samples})


def _iso(ts_ms: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms // 1000)) + f".{ts_ms % 1000:03d}Z"


def write_config(tmp_path: Path, extra: str = "") -> str:
    path = tmp_path / f"energymon{next(_ids)}.toml"
    path.write_text(CONFIG.format(extra=extra))
    return str(path)


def queried_kwh(h: Any, data_dir: Path, device: str) -> float:
    return round(sum(p["import_kwh"] for p in h.query_day(data_dir, device)["periods"]), 6)


def healthz(rt: Any) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(rt.info()["web_url"] + "healthz", timeout=5) as response:  # noqa: S310
            return json.loads(response.read())  # type: ignore[no-any-return]
    except urllib.error.HTTPError as exc:  # 503 while a component is degraded: the body says which
        return json.loads(exc.read())  # type: ignore[no-any-return]


def test_published_energy_is_the_derived_total_and_survives_a_meter_reset(h, runtime_factory, tmp_path):
    # GIVEN the runtime on its embedded amqtt broker with --ha-discovery, and a watcher where HA would be
    rt = runtime_factory(*h.embedded_args(), "--web-port", "0", "--ha-discovery",
                         "--config", write_config(tmp_path)).start()
    watcher = Watcher(rt.broker_port)
    publisher = h.Publisher(rt.broker_port)
    device = "apt-ha"
    # WHEN a meter reports 120 s, then its counter resets (1.23 MWh -> 5 Wh) and it reports 120 s more
    publisher.publish_many([(h.topic(device), readings(device, h.T0_MS, 10 * s, 10, E0_WH + 5 * s, s))
                            for s in range(12)])
    h.wait_until(lambda: h.stored_readings(rt.data_dir, device) == 120, what="the first 120 readings")
    before = queried_kwh(h, rt.data_dir, device)
    h.wait_until(lambda: (watcher.last_state(device) or {}).get("import_kwh") == before, 30,
                 what=f"the published import to equal energymon query ({before} kWh)")
    publisher.publish_many([(h.topic(device), readings(device, h.T0_MS, 120 + 10 * s, 10, 5.0 + 5 * s, 12 + s))
                            for s in range(12)])
    h.wait_until(lambda: h.stored_readings(rt.data_dir, device) == 240, what="the readings after the reset")
    after = queried_kwh(h, rt.data_dir, device)
    h.wait_until(lambda: (watcher.last_state(device) or {}).get("import_kwh") == after, 30,
                 what=f"the published import to equal energymon query after the reset ({after} kWh)")
    # THEN the published total is energymon's derived one: across the reset it grew by what the restarted
    # counter shows (5 Wh since its zero, then 119 steps of 0.5 Wh): never down with the raw counter's
    # 1.23 MWh drop, never up by it
    assert before == pytest.approx(119 * 0.5 / 1000)
    assert after - before == pytest.approx((5.0 + 119 * 0.5) / 1000)
    published = watcher.imports(device)
    assert published == sorted(published), "the published import dropped"
    # AND every config payload is discovery HA documents, with the entities the issue names
    configs = watcher.live_configs(device)
    for topic, payload in configs.items():
        assert problems(topic, payload) == []
    by_object = {t.split("/")[3]: p for t, p in configs.items()}
    assert sorted(by_object) == ["alert_kettle-left-on", "cost_today", "energy_import", "power"]
    assert (by_object["energy_import"]["device_class"], by_object["energy_import"]["state_class"],
            by_object["energy_import"]["unit_of_measurement"]) == ("energy", "total_increasing", "kWh")
    assert by_object["cost_today"]["unit_of_measurement"] == "EUR"
    state = watcher.last_state(device)
    assert state is not None and state["alert_kettle-left-on"] == "OFF" and state["currency"] == "EUR"
    assert watcher.status["energymon/status"] == b"online"
    # AND when Home Assistant announces itself (birth message), every config is published again
    seen = watcher.config_messages
    watcher.ha_birth()
    h.wait_until(lambda: watcher.config_messages >= seen + len(configs), 15, what="configs re-published on birth")
    assert healthz(rt)["components"]["ha-discovery"]["status"] == "ok"
    publisher.close()
    rt.stop()
    # AND a clean stop says offline on the availability topic
    h.wait_until(lambda: watcher.status.get("energymon/status") == b"offline", 10, what="availability offline")
    watcher.close()


def test_a_retired_device_is_removed_and_a_killed_runtime_goes_offline(h, runtime_factory, tmp_path, mosquitto):
    # GIVEN two devices known to Home Assistant through a private Mosquitto (which keeps retained messages)
    address = mosquitto.start()
    args = ["--simulate", "0", "--broker", address.url, "--batching-window", "1", "--web-port", "0"]
    watcher = Watcher(address.port)
    rt = runtime_factory(*args, "--config", write_config(tmp_path)).start()
    publisher = h.Publisher(address.port)
    for device in ("apt-keep", "apt-old"):
        publisher.publish(h.topic(device), readings(device, h.T0_MS, 0, 10, 100.0, 0))
    h.wait_until(lambda: watcher.live_configs("apt-old") and watcher.live_configs("apt-keep"), 30,
                 what="both devices discovered")
    old_topics = set(watcher.live_configs("apt-old"))
    rt.stop()
    # WHEN energymon starts again with apt-old retired
    rt2 = runtime_factory(*args, "--config", write_config(tmp_path, 'retired = ["apt-old"]'),
                          data_dir=rt.data_dir).start()
    h.wait_until(lambda: not watcher.live_configs("apt-old"), 30, what="apt-old's configs emptied")
    # THEN its configs were removed with an empty retained payload, and a Home Assistant starting now finds
    # only apt-keep's entities on the broker
    assert all(watcher.configs[t] == b"" for t in old_topics)
    fresh = Watcher(address.port)
    h.wait_until(lambda: fresh.live_configs("apt-keep"), 10, what="apt-keep's retained configs")
    assert fresh.live_configs("apt-old") == {}
    fresh.close()
    # AND if energymon dies without a word, the broker's Will marks its entities unavailable
    h.wait_until(lambda: watcher.status.get("energymon/status") == b"online", 10, what="online again")
    rt2.process.send_signal(signal.SIGKILL)
    rt2.process.wait(timeout=30)
    h.wait_until(lambda: watcher.status.get("energymon/status") == b"offline", 60, what="the Will (offline)")
    publisher.close()
    watcher.close()


@pytest.mark.parametrize(("broker_config", "expected"), [
    # an ACL that lets energymon publish readings and states but nothing under the discovery prefix
    ("allow_anonymous true\nacl_file {acl}", "did not keep"),
    ("allow_anonymous true\nretain_available false", "refuses retained messages"),
], ids=["acl-denies-prefix", "no-retained-messages"])
def test_a_broker_that_refuses_discovery_is_reported_once_and_the_pipeline_runs_on(
        h, runtime_factory, tmp_path, mosquitto, broker_config, expected):
    # GIVEN a Mosquitto that refuses what discovery needs (its ACL where the `mosquitto` user can read it:
    # started as root, it drops privileges before reading the file)
    world = Path(tempfile.mkdtemp(prefix="energymon-ha-"))
    world.chmod(0o755)
    acl = world / "acl"
    acl.write_text("topic readwrite energy/#\ntopic readwrite energymon/#\ntopic read homeassistant/status\n")
    acl.chmod(0o644)
    mosquitto.extra_config = broker_config.format(acl=acl)
    try:
        address = mosquitto.start()
    finally:
        shutil.rmtree(world, ignore_errors=True)  # read at start
    rt = runtime_factory("--simulate", "0", "--broker", address.url, "--batching-window", "1", "--web-port", "0",
                         "--config", write_config(tmp_path)).start()
    # WHEN readings arrive
    publisher = h.Publisher(address.port)
    publisher.publish_many([(h.topic("apt-9"), readings("apt-9", h.T0_MS, 10 * s, 10, 50.0 + 5 * s, s))
                            for s in range(6)])
    publisher.close()
    # THEN the problem is said once, in words, and in the health status ...
    h.wait_until(lambda: expected in rt.output(), 30, what="the discovery problem in the log")
    h.wait_until(lambda: h.stored_readings(rt.data_dir, "apt-9") == 60, what="the readings stored")
    component = healthz(rt)["components"]["ha-discovery"]
    assert component["status"] == "degraded" and expected in component["reason"]
    # ... and the pipeline ran on: everything stored, a clean stop
    out = rt.stop()
    lines = [line for line in out.splitlines() if "home assistant discovery:" in line]
    assert len(lines) == 1, lines
    assert h.totals(rt.data_dir, "apt-9") == (59 * 500, 60)


HASS = os.environ.get("ENERGYMON_HASS", "/tmp/ha-venv/bin/hass")  # noqa: S108 - where the README's recipe puts it


def _hass_config(config: Path, port: int) -> None:
    """A Home Assistant with its MQTT integration on ``port`` (discovery on), set up without the UI."""
    (config / ".storage").mkdir(parents=True)
    (config / "configuration.yaml").write_text(
        "homeassistant:\n  name: energymon-check\n  latitude: 52.37\n  longitude: 4.89\n  elevation: 0\n"
        "  unit_system: metric\n  time_zone: UTC\n  currency: EUR\n  country: NL\nrecorder:\n  commit_interval: 1\n")
    entry = {"entry_id": "01JENERGYMONMQTT0000000000", "version": 1, "minor_version": 2, "domain": "mqtt",
             "title": "127.0.0.1", "data": {"broker": "127.0.0.1", "port": port},
             "options": {"discovery": True, "discovery_prefix": "homeassistant"}, "pref_disable_new_entities": False,
             "pref_disable_polling": False, "source": "user", "unique_id": None, "disabled_by": None,
             "created_at": "2026-12-01T00:00:00+00:00", "modified_at": "2026-12-01T00:00:00+00:00",
             "discovery_keys": {}, "subentries": []}
    (config / ".storage" / "core.config_entries").write_text(json.dumps(
        {"version": 1, "minor_version": 5, "key": "core.config_entries", "data": {"entries": [entry]}}))


def _registry(config: Path) -> dict[str, dict[str, Any]]:
    try:
        entities = json.loads((config / ".storage" / "core.entity_registry").read_text())["data"]["entities"]
    except (OSError, ValueError, KeyError):
        return {}
    return {e["unique_id"]: e for e in entities if e["platform"] == "mqtt"}


def _recorded(config: Path, entity_id: str) -> list[str]:
    path = config / "home-assistant_v2.db"
    if not path.exists():
        return []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        rows = con.execute("SELECT s.state FROM states s JOIN states_meta m USING (metadata_id) "
                           "WHERE m.entity_id = ? ORDER BY s.state_id", (entity_id,)).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()
    return [r[0] for r in rows]


@pytest.mark.skipif(not Path(HASS).exists(), reason=f"no Home Assistant at {HASS} (README: Home Assistant, "
                    "how to check against a real one)")
@pytest.mark.timeout(400)
def test_a_real_home_assistant_discovers_the_entities_and_records_the_derived_kwh(h, runtime_factory, tmp_path,
                                                                                  mosquitto):
    # GIVEN energymon on a private Mosquitto, and a real Home Assistant whose MQTT integration uses it
    address = mosquitto.start()
    rt = runtime_factory("--simulate", "0", "--broker", address.url, "--batching-window", "1", "--web-port", "0",
                         "--config", write_config(tmp_path)).start()
    config = tmp_path / "hass"
    _hass_config(config, address.port)
    log = (tmp_path / "hass.log").open("wb")
    hass = subprocess.Popen([HASS, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT,  # noqa: S603
                            start_new_session=True)
    publisher = h.Publisher(address.port)
    device = "apt-real"
    try:
        publisher.publish_many([(h.topic(device), readings(device, h.T0_MS, 10 * s, 10, E0_WH + 5 * s, s))
                                for s in range(12)])
        # THEN Home Assistant creates every entity with the classes and units energymon gave
        h.wait_until(lambda: len([u for u in _registry(config) if u.startswith("energymon_apt-real_")]) == 4, 240,
                     what="Home Assistant to register the four entities")
        registry = _registry(config)
        energy = registry["energymon_apt-real_energy_import"]
        assert (energy["original_device_class"], energy["capabilities"], energy["unit_of_measurement"]) == (
            "energy", {"state_class": "total_increasing"}, "kWh")
        assert registry["energymon_apt-real_cost_today"]["unit_of_measurement"] == "EUR"
        assert registry["energymon_apt-real_alert_kettle-left-on"]["original_device_class"] == "problem"
        # WHEN the meter's counter resets
        publisher.publish_many([(h.topic(device), readings(device, h.T0_MS, 120 + 10 * s, 10, 5.0 + 5 * s, 12 + s))
                                for s in range(12)])
        h.wait_until(lambda: h.stored_readings(rt.data_dir, device) == 240, what="the readings after the reset")
        after = queried_kwh(h, rt.data_dir, device)
        entity = energy["entity_id"]
        # THEN what Home Assistant records is energymon query's kWh, and it never went down
        h.wait_until(lambda: _recorded(config, entity)[-1:] == [str(after)], 60,
                     what=f"Home Assistant to record {after} kWh for {entity}")
        values = [float(v) for v in _recorded(config, entity) if v not in ("unknown", "unavailable")]
        assert values == sorted(values) and values[-1] == after
    finally:
        publisher.close()
        hass.terminate()
        try:
            hass.wait(timeout=60)
        except subprocess.TimeoutExpired:
            hass.kill()
        log.close()
    rt.stop()
