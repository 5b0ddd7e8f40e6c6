"""The agent's relay and multi-channel devices: one agent is one device, so a channel or the sum."""

from __future__ import annotations

import orjson
import pytest

from energymon.agent import RelaySource, load_agent_config
from energymon.errors import ConfigError

pytestmark = pytest.mark.integration

# A Tasmota dual relay with SetOption129 (per-channel totals), as in tests/unit/test_decoder_tasmota_meters.py.
DUAL = b'{"Time":"2026-11-27T21:00:00","ENERGY":{"Total":[0.512,1.204],"Power":[15,60],"Voltage":230}}'
SHELLY_2PM = orjson.dumps({"src": "shellyplus2pm-1", "method": "NotifyStatus", "params": {
    "ts": 1795813200, "switch:0": {"apower": 100.0, "aenergy": {"total": 1000.0}},
    "switch:1": {"apower": 20.5, "aenergy": {"total": 250.25}}}})


@pytest.mark.parametrize(
    ("fmt", "topic", "payload", "channels", "expected"),
    [
        ("tasmota", "tele/dual/SENSOR", DUAL, None, (75.0, 1716.0)),  # default: summed
        ("tasmota", "tele/dual/SENSOR", DUAL, "2", (60.0, 1204.0)),
        ("shelly", "shellyplus2pm-1/events/rpc", SHELLY_2PM, None, (100.0, 1000.0)),  # default: relay_channel 0
        ("shelly", "shellyplus2pm-1/events/rpc", SHELLY_2PM, "sum", (120.5, 1250.25)),
    ],
)
def test_the_relay_reads_the_configured_channel_or_the_sum_as_the_agents_device(
    fmt: str, topic: str, payload: bytes, channels: str | None, expected: tuple[float, float]
) -> None:
    cfg = load_agent_config(None, device_id="apt-7", source=fmt, relay_channels=channels, timezone="UTC")
    source = RelaySource(fmt, cfg.relay_broker_url, cfg.device_id, cfg.timezone, channel=cfg.relay_channel,
                         channels=cfg.relay_channels)
    [reading] = source.handle(topic, payload)
    assert (reading.device_id, reading.power_w, reading.energy_wh) == ("apt-7", *expected)


def test_split_is_refused_for_an_agent() -> None:
    with pytest.raises(ConfigError, match="no 'split'"):
        load_agent_config(None, device_id="apt-7", source="tasmota", relay_channels="split")


def test_a_shelly_gen1_relay_subscribes_each_quantity_of_its_device_and_reads_watt_minutes() -> None:
    source = RelaySource("shelly-gen1", "mqtt://127.0.0.1:1883", "apt-7", "UTC", local_device="shellyplug-s-1")
    assert "shellies/shellyplug-s-1/relay/+/energy" in source.topic_filters
    assert all(f.startswith("shellies/shellyplug-s-1/") for f in source.topic_filters)
    [reading] = source.handle("shellies/shellyplug-s-1/relay/0/energy", b"91200")
    assert (reading.device_id, reading.energy_wh) == ("apt-7", 1520.0)  # 91 200 Wmin / 60
    assert source.handle("shellies/shellyplug-s-1/relay/1/energy", b"5") == []  # channel 1: not this agent's
    assert source.rejected == {"wrong_component": 1}
    with pytest.raises(ConfigError, match="not sum"):
        RelaySource("shelly-gen1", "mqtt://127.0.0.1:1883", "apt-7", "UTC", channels="sum")
