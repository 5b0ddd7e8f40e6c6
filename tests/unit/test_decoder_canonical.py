"""Canonical wrapper and the decoder registry: one signature, one topic filter per format."""

from __future__ import annotations

import inspect
from pathlib import Path

import orjson
import pytest

import energymon.domain.decoders as decoders
from energymon.domain.decoders import DECODERS, TOPIC_FILTERS, canonical, decoder_for_topic, topic_matches
from energymon.domain.reading import Reading, encode_message
from energymon.errors import ConfigError, RejectedReading

DEVICES = Path(__file__).parents[1] / "events" / "devices"


def test_given_a_canonical_message_when_decoded_through_the_wrapper_then_it_matches_decode_message() -> None:
    reading = Reading("apt-12", 1_795_813_200_000, power_w=412.5, energy_wh=1_234_567.0)
    raw = encode_message("apt-12", 1042, [reading])
    assert canonical.decode("energy/apt-12/telemetry", raw, "Europe/Berlin") == [reading]


@pytest.mark.parametrize(
    ("topic", "raw", "kwargs", "code"),
    [
        ("tele/apt-12/SENSOR", b"{}", {}, "bad_topic"),
        ("energy/apt-12/telemetry", b"{nope", {}, "not_json"),
        (
            "energy/apt-13/telemetry",
            encode_message("apt-12", 1, [Reading("apt-12", 1_795_813_200_000, 1.0)]),
            {},
            "spoofed",
        ),
        ("energy/apt-12/telemetry", b'{"v": 2}', {}, "schema"),
        ("energy/apt-12/telemetry", b"{}", {"device_id": "apt-99"}, "spoofed"),
    ],
)
def test_given_a_bad_canonical_message_when_decoded_then_the_canonical_reason_comes_through(
    topic: str, raw: bytes, kwargs: dict[str, str], code: str
) -> None:
    with pytest.raises(RejectedReading) as err:
        canonical.decode(topic, raw, "UTC", **kwargs)
    assert err.value.code == code


def test_the_registry_lists_every_format_with_the_same_signature_and_a_topic_filter() -> None:
    assert set(DECODERS) == set(TOPIC_FILTERS) == {"canonical", "tasmota", "shelly", "shelly-gen1", "plain", "dsmr"}
    assert dict(TOPIC_FILTERS) == {
        "canonical": "energy/+/telemetry",
        "tasmota": "tele/+/SENSOR",
        "shelly": "+/events/rpc",
        "shelly-gen1": "shellies/+/+/+/+",
        "plain": "+/sensor/+/state",
        "dsmr": None,  # read from the serial port, not subscribed to
    }
    for decode in DECODERS.values():
        params = inspect.signature(decode).parameters
        assert list(params)[:3] == ["topic", "payload", "tz"]
        assert {"device_id", "now_ms"} <= set(params)
    assert all(hasattr(decoders, name) for name in decoders.__all__)
    with pytest.raises(TypeError):
        DECODERS["x"] = canonical.decode  # type: ignore[index]


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("energy/apt-12/telemetry", "canonical"),
        ("tele/kitchen-plug/SENSOR", "tasmota"),
        ("shellypro3em-c8f09e8812a4/events/rpc", "shelly"),
        ("tele/kitchen-plug/STATE", None),
        ("energy/apt-12/telemetry/extra", None),
        ("$SYS/events/rpc", None),
    ],
)
def test_given_a_topic_when_routed_then_the_matching_format_is_found(topic: str, expected: str | None) -> None:
    assert decoder_for_topic(topic) == expected


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [("a/#", "a/b/c", True), ("a/+", "a", False), ("+/+", "a/b", True), ("#", "$SYS/x", False)],
)
def test_mqtt_filter_matching_follows_the_spec(topic_filter: str, topic: str, matches: bool) -> None:
    assert topic_matches(topic_filter, topic) is matches


@pytest.mark.parametrize(
    ("name", "topic", "sample", "kwargs"),
    [
        ("tasmota", "tele/plug/SENSOR", "tasmota_sensor.json", {}),
        ("shelly", "shellypro3em-c8f09e8812a4/events/rpc", "shelly_pro3em_emdata.json", {}),
        ("dsmr", "", "dsmr_v5_telegram.txt", {"device_id": "p1"}),
    ],
)
def test_given_each_sample_when_decoded_through_the_registry_then_a_canonical_reading_round_trips(
    name: str, topic: str, sample: str, kwargs: dict[str, str]
) -> None:
    readings = DECODERS[name](topic, (DEVICES / sample).read_bytes(), "Europe/Amsterdam", **kwargs)
    # THEN every reading is valid canonical wire format too (what the processor stores)
    raw = encode_message(readings[0].device_id, 1, readings)
    assert canonical.decode(f"energy/{readings[0].device_id}/telemetry", raw, "UTC") == readings
    assert orjson.loads(raw)["samples"]


def test_given_an_unknown_zone_when_any_decoder_is_called_then_it_is_a_config_error() -> None:
    for name, decode in DECODERS.items():
        with pytest.raises(ConfigError):
            decode("energy/a/telemetry", b"{}", "Not/AZone", device_id="a" if name == "dsmr" else None)
