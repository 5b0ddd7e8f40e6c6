"""Shelly Gen1: one number per topic (Shelly Gen1 API docs, MQTT topics of the EM/3EM, 1PM/2.5/Plug S,
Dimmer); relay/<n>/energy is in watt-minutes. Expected values by hand."""

from __future__ import annotations

import pytest

from energymon.domain.decoders import shelly_gen1
from energymon.errors import ConfigError, RejectedReading

NOW = 1_795_813_200_000
EM = "shellies/shellyem-B9F2A1"


@pytest.mark.parametrize(
    ("topic", "payload", "field", "value"),
    [
        (f"{EM}/emeter/0/power", b"-412.35", "power_w", -412.35),
        (f"{EM}/emeter/0/total", b"1234567.8", "energy_wh", 1_234_567.8),
        (f"{EM}/emeter/0/total_returned", b"8901.2", "export_wh", 8901.2),
        ("shellies/shellyplug-s-7A1B2C/relay/0/power", b"57.20", "power_w", 57.2),
        # 91 200 watt-minutes / 60 = 1520 Wh (the raw number read as Wh would be 60x too large)
        ("shellies/shellyplug-s-7A1B2C/relay/0/energy", b"91200", "energy_wh", 1520.0),
        ("shellies/shellydimmer2-1A2B3C/light/0/energy", b"600", "energy_wh", 10.0),
    ],
)
def test_each_topic_is_a_reading_of_its_quantity_in_its_unit(topic: str, payload: bytes, field: str,
                                                              value: float) -> None:
    [r] = shelly_gen1.decode(topic, payload, "UTC", now_ms=NOW)
    assert getattr(r, field) == pytest.approx(value)
    assert r.ts_ms == NOW and r.device_id == topic.split("/")[1]


def test_split_channels_and_channel_selection() -> None:
    topic = "shellies/shellyswitch25-AB12CD/relay/1/power"
    [r] = shelly_gen1.decode(topic, b"20", "UTC", now_ms=NOW, channels="split")
    assert r.device_id == "shellyswitch25-AB12CD-ch1"
    with pytest.raises(RejectedReading, match="channel 1, but channel 0 is configured"):
        shelly_gen1.decode(topic, b"20", "UTC", now_ms=NOW)
    with pytest.raises(ConfigError, match="not sum"):
        shelly_gen1.decode(topic, b"20", "UTC", now_ms=NOW, channels="sum")


@pytest.mark.parametrize(
    ("topic", "payload", "match"),
    [
        (f"{EM}/emeter/0/reactive_power", b"1", "expected <kind>/<n>/<quantity>"),
        (f"{EM}/emeter/0/power", b"on", "'on' is not a number"),
        (f"{EM}/emeter/0/power", b"nan", "not a finite number"),
        (f"{EM}/emeter/0/total", b"-5", "negative"),
        (f"{EM}/emeter/0/power", b"1" * 100, "expected one number"),
        ("shellies/x/online", b"true", "is not a Shelly Gen1 measurement topic"),
    ],
)
def test_rejections_say_what_was_expected(topic: str, payload: bytes, match: str) -> None:
    with pytest.raises(RejectedReading, match=match):
        shelly_gen1.decode(topic, payload, "UTC", now_ms=NOW)


def test_a_custom_prefix_takes_the_id_the_topic_pattern_derived() -> None:
    [r] = shelly_gen1.decode("home/garage/em/emeter/0/power", b"5", "UTC", device_id="garage-em", now_ms=NOW)
    assert r.device_id == "garage-em"
