"""Shelly Gen2/Gen3 metered switches and power meters (switch:N, pm1:N) and multi-channel choice.

Component bodies are the GetStatus examples of the Shelly Gen2+ API docs (shelly-api-docs.shelly.cloud,
components Switch and PM1), wrapped in the NotifyStatus notification the device publishes on
``<id>/events/rpc``; the delta case is the shape of the docs' NotifyStatus example (only what changed).
"""

from __future__ import annotations

import orjson
import pytest

from energymon.domain.decoders import shelly
from energymon.errors import RejectedReading

TS = 1_795_813_200.5


def notify(src: str, params: dict[str, object]) -> bytes:
    return orjson.dumps({"src": src, "dst": f"{src}/events", "method": "NotifyStatus", "params": {"ts": TS, **params}})


PLUG_S = "shellyplusplugs-e86beae8d4a4"
SWITCH_0 = {"id": 0, "source": "timer", "output": True, "apower": 8.9, "voltage": 237.5, "current": 0.068,
            "aenergy": {"total": 6.532, "by_minute": [45.199, 47.141, 88.397], "minute_ts": 1654511972},
            "temperature": {"tC": 23.5, "tF": 74.4}}
PM_MINI = "shellypmminig3-84fce63ad204"
PM1_0 = {"id": 0, "voltage": 240.2, "current": 6.473, "apower": 1327.7, "freq": 50.0,
         "aenergy": {"total": 11679.0, "by_minute": [0.0, 0.0, 0.0], "minute_ts": 1675718520},
         "ret_aenergy": {"total": 5817.0, "by_minute": [0.0, 0.0, 0.0], "minute_ts": 1675718520}}


def test_plus_plug_s_switch_reads_apower_and_aenergy_total_in_wh() -> None:
    [r] = shelly.decode(f"{PLUG_S}/events/rpc", notify(PLUG_S, {"switch:0": SWITCH_0}), "UTC")
    assert (r.device_id, r.power_w, r.energy_wh, r.voltage_v, r.current_a) == (PLUG_S, 8.9, 6.532, 237.5, 0.068)
    assert r.ts_ms == 1_795_813_200_500


def test_pm_mini_pm1_reads_import_and_returned_energy() -> None:
    [r] = shelly.decode(f"{PM_MINI}/events/rpc", notify(PM_MINI, {"pm1:0": PM1_0}), "UTC")
    assert (r.power_w, r.energy_wh, r.export_wh) == (1327.7, 11679.0, 5817.0)


def test_a_delta_with_only_the_counter_is_a_reading_with_only_the_counter() -> None:
    delta = {"switch:0": {"id": 0, "aenergy": {"total": 6.611, "by_minute": [0, 0, 0], "minute_ts": 1654512032}}}
    [r] = shelly.decode(f"{PLUG_S}/events/rpc", notify(PLUG_S, delta), "UTC")
    assert (r.power_w, r.energy_wh) == (None, 6.611)


TWO_PM = "shellyplus2pm-a8032ab1c2d3"
TWO_CHANNELS = {"switch:0": {**SWITCH_0, "apower": 100.0, "aenergy": {"total": 1000.0}},
                "switch:1": {**SWITCH_0, "id": 1, "apower": 20.5, "current": 0.1, "aenergy": {"total": 250.25}}}


def test_a_two_channel_switch_is_channel_0_by_default_summed_or_split_on_request() -> None:
    topic, raw = f"{TWO_PM}/events/rpc", notify(TWO_PM, TWO_CHANNELS)
    [first] = shelly.decode(topic, raw, "UTC")
    assert (first.power_w, first.energy_wh) == (100.0, 1000.0)
    [summed] = shelly.decode(topic, raw, "UTC", channels="sum")
    assert (summed.device_id, summed.power_w, summed.energy_wh, summed.current_a) == (TWO_PM, 120.5, 1250.25, 0.168)
    ch0, ch1 = shelly.decode(topic, raw, "UTC", channels="split")
    assert (ch0.device_id, ch0.power_w, ch0.energy_wh) == (f"{TWO_PM}-ch0", 100.0, 1000.0)
    assert (ch1.device_id, ch1.power_w, ch1.energy_wh) == (f"{TWO_PM}-ch1", 20.5, 250.25)
    [second] = shelly.decode(topic, raw, "UTC", channels=1)
    assert (second.device_id, second.power_w) == (TWO_PM, 20.5)


def test_pro_em_channels_split_across_em1_and_em1data() -> None:
    pro_em = "shellyproem50-08f9e0e5a1b2"
    params = {"em1:0": {"id": 0, "act_power": -850.3, "voltage": 230.9, "current": 3.72},
              "em1:1": {"id": 1, "act_power": 95.0, "voltage": 230.9, "current": 0.48},
              "em1data:0": {"id": 0, "total_act_energy": 1200.0, "total_act_ret_energy": 3400.0},
              "em1data:1": {"id": 1, "total_act_energy": 55.5, "total_act_ret_energy": 0.0}}
    ch0, ch1 = shelly.decode(f"{pro_em}/events/rpc", notify(pro_em, params), "UTC", channels="split")
    assert (ch0.power_w, ch0.energy_wh, ch0.export_wh) == (-850.3, 1200.0, 3400.0)
    assert (ch1.device_id, ch1.power_w, ch1.energy_wh, ch1.export_wh) == (f"{pro_em}-ch1", 95.0, 55.5, 0.0)


@pytest.mark.parametrize(
    ("component", "match"),
    [({"id": 0, "aenergy": 6.5}, "switch:0.aenergy must be an object with total"),
     ({"id": 0, "aenergy": {"total": "6.5"}}, "switch:0.aenergy.total must be a finite number"),
     ({"id": 0, "output": True}, "no power .* and no energy counter")],
)
def test_malformed_switch_components_name_the_field(component: dict[str, object], match: str) -> None:
    with pytest.raises(RejectedReading, match=match):
        shelly.decode(f"{PLUG_S}/events/rpc", notify(PLUG_S, {"switch:0": component}), "UTC")


def test_a_bad_channels_setting_is_a_config_error() -> None:
    from energymon.errors import ConfigError

    with pytest.raises(ConfigError, match="expected 'sum', 'split' or a channel number"):
        shelly.decode(f"{PLUG_S}/events/rpc", notify(PLUG_S, {"switch:0": SWITCH_0}), "UTC", channels="all")
