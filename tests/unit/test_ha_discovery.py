"""Home Assistant discovery payloads: every key documented, ids in HA's characters, templates that render."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import jinja2
import pytest

from energymon.adapters.mqtt.ha_discovery import HaTopics, alert_key, discovery_configs, held, node_id, state_payload
from energymon.application.ha_figures import DeviceFigures
from energymon.config import load_settings
from energymon.errors import ConfigError

sys.path.insert(0, str(Path(__file__).parents[1]))
from ha_schema import problems  # noqa: E402

FULL = DeviceFigures("apt.7:main", "Flat 7", 12.5, 3.25, 412.0, True, 1.5, 0.87, "EUR", "2026-12-02T00:00:00+01:00",
                     {"kettle-left-on": True, "night.base": False})
BARE = DeviceFigures("apt-1", None, 0.0, 0.0, None, False, 0.0, None, None, "2026-12-02T00:00:00+00:00", {})


def render(template: str, state: dict[str, object]) -> str:
    """As HA renders a value_template: ``value_json`` is the parsed state (a None renders as "None")."""
    return jinja2.Environment(autoescape=False).from_string(template).render(value_json=state)  # noqa: S701


def test_every_entity_of_a_full_device_is_documented_discovery_and_reads_its_value_from_the_state():
    # GIVEN a device with export, a tariff and two alert rules, whose id has characters HA refuses in topics
    configs = discovery_configs(FULL, HaTopics())
    state = json.loads(json.dumps(state_payload(FULL)))
    # THEN there is one entity per figure, each one valid discovery by HA's documented keys
    objects = sorted(t.split("/")[3] for t in configs)
    assert objects == sorted([alert_key("kettle-left-on"), alert_key("night.base"), "cost_today", "energy_export",
                              "energy_import", "power"])
    for topic, payload in configs.items():
        assert problems(topic, payload) == []
    assert len({p["unique_id"] for p in configs.values()}) == len(configs)
    assert {p["device"]["name"] for p in configs.values()} == {"Flat 7"}
    # AND each template gives the figure HA must show
    values = {t.split("/")[3]: render(p["value_template"], state) for t, p in configs.items()}
    assert values["energy_import"] == "12.5" and values["energy_export"] == "3.25"
    assert values["power"] == "412.0" and values["cost_today"] == "0.87"
    assert values["alert_kettle-left-on"] == "ON" and sorted(values.values()).count("OFF") == 1
    cost = next(p for t, p in configs.items() if t.endswith("/cost_today/config"))
    assert cost["unit_of_measurement"] == "EUR"
    assert render(cost["last_reset_value_template"], state) == "2026-12-02T00:00:00+01:00"


def test_a_device_without_tariff_or_export_gets_no_cost_or_export_sensor_and_unknown_power_reads_none():
    configs = discovery_configs(BARE, HaTopics("ha/disc", "em"))
    assert sorted(t.split("/")[-2] for t in configs) == ["energy_import", "power"]
    assert all(t.startswith("ha/disc/sensor/energymon_apt-1/") for t in configs)
    power = configs["ha/disc/sensor/energymon_apt-1/power/config"]
    # HA's MQTT sensor reads the payload "None" as unknown, not as a number
    assert render(power["value_template"], state_payload(BARE)) == "None"
    assert power["availability_mode"] == "all"
    assert [a["topic"] for a in power["availability"]] == ["em/status", "em/apt-1/availability"]


def test_two_device_ids_that_clean_alike_keep_apart_nodes():
    assert node_id("apt-1") == "energymon_apt-1"
    assert node_id("a.b") != node_id("a:b")
    assert node_id("a.b").startswith("energymon_a_b_")


def test_the_schema_check_refuses_what_ha_would_refuse():
    topic, payload = next(iter(discovery_configs(FULL, HaTopics()).items()))
    broken = {**payload, "unit_of_measurement": "kW", "unique_idd": "x"}
    del broken["unique_id"]
    found = problems(topic, broken)
    assert any("undocumented key 'unique_idd'" in p for p in found)
    assert any("no unique_id" in p for p in found)
    assert any("unit 'kW'" in p for p in found)
    assert problems("homeassistant/sensor/a.b/x/config", payload)


@pytest.mark.parametrize(("table", "named"), [
    ({"prefix": "home/#"}, "home_assistant.prefix"),
    ({"prefix": "$SYS"}, "home_assistant.prefix"),
    ({"base_topic": "homeassistant/energy"}, "must not be inside the discovery prefix"),
    ({"retired": ["not a device"]}, "home_assistant.retired"),
    ({"interval_s": 0}, "home_assistant.interval_s"),
    ({"discovery": "sometimes"}, "home_assistant.discovery"),
    ({"prefx": "ha"}, "home_assistant.prefx"),
])
def test_a_bad_home_assistant_table_is_refused_naming_the_key(table, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.").replace("$", r"\$")):
        load_settings(None, home_assistant=table)


def test_discovery_with_secure_mode_is_refused_saying_what_to_do_instead():
    with pytest.raises(ConfigError, match="use --broker"):
        load_settings(None, secure=True, home_assistant={"discovery": True})


def test_the_toml_table_and_the_flag_merge(tmp_path):
    config = tmp_path / "energymon.toml"
    config.write_text('[home_assistant]\nprefix = "ha"\ninterval_s = 2\n')
    ha = load_settings(config, home_assistant={"discovery": True}).home_assistant
    assert (ha.discovery, ha.prefix, ha.interval_s) == (True, "ha", 2.0)


def test_a_total_that_a_recompute_lowers_holds_at_what_home_assistant_was_told():
    # GIVEN 12.5 kWh published, then late data makes the derived total 12.49 (HA would read a new meter)
    marks: dict[str, tuple[float, float]] = {}
    assert held(FULL, marks) is FULL
    lowered = replace(FULL, import_kwh=12.49, export_kwh=3.3)
    # THEN import holds at 12.5 until the derived total passes it; export, which rose, goes on
    assert (held(lowered, marks).import_kwh, held(lowered, marks).export_kwh) == (12.5, 3.3)
    assert held(replace(FULL, import_kwh=12.6), marks).import_kwh == 12.6
