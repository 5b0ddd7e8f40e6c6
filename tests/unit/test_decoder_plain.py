"""Plain-value topics: ESPHome sensor states and emoncms inputs, with the configured quantities.

Shapes: ESPHome's MQTT state topics ``<node>/sensor/<name>/state`` with a bare number (esphome.io, MQTT
client component); emoncms's MQTT input ``emon/<node>/<input>`` with a number, or ``emon/<node>`` with a
JSON object of named values (emoncms docs, "MQTT" input). Expected values by hand.
"""

from __future__ import annotations

import pytest

from energymon.adapters.mqtt.sources import SourceOptions, message_decoder
from energymon.errors import ConfigError, RejectedReading

NOW = 1_795_813_200_000


def route(topics: list[str], quantities: dict[str, str]):  # type: ignore[no-untyped-def]
    options = SourceOptions.from_dict({"topics": topics, "quantities": quantities})
    decode, filters = message_decoder("plain", lambda _d: "UTC", options)
    return decode, filters


ESPHOME = (["{device}/sensor/{quantity}/state"],
           {"power": "power_w", "total_daily_energy": "energy_kwh", "voltage": "voltage_v"})


@pytest.mark.parametrize(
    ("topic", "payload", "field", "value"),
    [
        ("energy-meter/sensor/power/state", b"412.50", "power_w", 412.5),
        ("energy-meter/sensor/total_daily_energy/state", b"3.25", "energy_wh", 3250.0),  # kWh -> Wh
        ("energy-meter/sensor/voltage/state", b"230.1", "voltage_v", 230.1),
    ],
)
def test_esphome_states_become_readings_of_the_mapped_field(topic: str, payload: bytes, field: str,
                                                             value: float) -> None:
    decode, filters = route(*ESPHOME)
    assert filters == ("+/sensor/+/state",)
    [r] = decode(topic, payload, now_ms=NOW)
    assert (r.device_id, getattr(r, field), r.ts_ms) == ("energy-meter", value, NOW)


def test_an_emoncms_json_input_maps_its_keys_and_ignores_the_others() -> None:
    decode, _ = route(["emon/{device}"], {"power1": "power_w", "kwh": "energy_kwh"})
    [r] = decode("emon/house", b'{"power1": 1200, "kwh": 5123.4, "temp": 21.5}', now_ms=NOW)
    assert (r.device_id, r.power_w, r.energy_wh) == ("house", 1200.0, pytest.approx(5_123_400.0))


@pytest.mark.parametrize(
    ("topic", "payload", "match"),
    [
        ("energy-meter/sensor/wifi_signal/state", b"-60", r"measures 'wifi_signal': expected one of the configured"),
        ("energy-meter/sensor/power/state", b"unavailable", "'unavailable' is not a number"),
        ("energy-meter/sensor/power/state", b"inf", "not a finite number"),
        ("energy-meter/sensor/total_daily_energy/state", b"-1", "negative"),
        ("energy-meter/sensor/power/state", b"2e9", "implausible"),
    ],
)
def test_refusals_name_what_was_expected(topic: str, payload: bytes, match: str) -> None:
    decode, _ = route(*ESPHOME)
    with pytest.raises(RejectedReading, match=match):
        decode(topic, payload, now_ms=NOW)


def test_a_json_object_without_a_mapped_key_names_its_keys() -> None:
    decode, _ = route(["emon/{device}"], {"power1": "power_w"})
    with pytest.raises(RejectedReading, match=r"JSON object has temp: expected one of the configured quantities \(power1\)"):
        decode("emon/house", b'{"temp": 21.5}', now_ms=NOW)


def test_a_plain_source_needs_quantities_and_valid_fields() -> None:
    with pytest.raises(ConfigError, match="needs to know what each topic measures"):
        message_decoder("plain", lambda _d: "UTC")
    with pytest.raises(ConfigError, match="quantities.power: expected one of power_w"):
        SourceOptions.from_dict({"quantities": {"power": "watts"}})
