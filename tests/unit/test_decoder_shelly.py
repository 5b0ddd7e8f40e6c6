"""Shelly Gen2 RPC-over-MQTT decoder: NotifyStatus with em/emdata/em1/em1data components."""

from __future__ import annotations

import functools
from pathlib import Path

import orjson
import pytest

from energymon.domain.decoders import DECODERS, Decoder, shelly
from energymon.errors import RejectedReading

DEVICES = Path(__file__).parents[1] / "events" / "devices"
PRO3EM = "shellypro3em-c8f09e8812a4"
PROEM = "shellyproem50-08f9e0e5a1b2"
TS_MS = 1_795_813_200_000  # 2026-11-27T21:00:00Z


def sample(name: str) -> bytes:
    return (DEVICES / name).read_bytes()


def notify(params: dict[str, object], method: str = "NotifyStatus", src: str = PRO3EM) -> bytes:
    return orjson.dumps({"src": src, "dst": f"{src}/events", "method": method, "params": params})


def test_given_a_pro3em_em_status_when_decoded_then_power_voltage_and_current_come_through() -> None:
    [r] = shelly.decode(f"{PRO3EM}/events/rpc", sample("shelly_pro3em_em.json"), "Europe/Berlin")
    assert r.device_id == PRO3EM
    assert r.ts_ms == TS_MS + 420  # params.ts is float seconds: fractions kept to the millisecond
    assert r.power_w == 412.5
    assert r.voltage_v == 229.8  # phase A
    assert r.current_a == 2.01  # total_current
    assert r.energy_wh is None


def test_given_em_without_total_current_when_decoded_then_phase_currents_are_summed() -> None:
    em = {"id": 0, "total_act_power": 100.0, "a_current": 0.5, "b_current": 0.25, "c_current": 0.25}
    [r] = shelly.decode(f"{PRO3EM}/events/rpc", notify({"ts": 1795813200, "em:0": em}), "UTC")
    assert r.current_a == pytest.approx(1.0)


def test_given_an_emdata_status_when_decoded_then_cumulative_import_and_export_are_wh() -> None:
    [r] = shelly.decode(f"{PRO3EM}/events/rpc", sample("shelly_pro3em_emdata.json"), "Europe/Berlin")
    assert r.energy_wh == 1_234_566.89
    assert r.export_wh == 1200.5
    assert r.power_w is None
    assert r.ts_ms == TS_MS + 60_010


@pytest.mark.parametrize(
    ("channel", "power_w", "current_a", "energy_wh", "export_wh"),
    [(0, -850.3, 3.72, 52310.7, 98214.3), (1, 95.0, 0.48, 7712.4, 0.0)],
)
def test_given_a_two_channel_pro_em_when_a_channel_is_chosen_then_only_that_channel_is_read(
    channel: int, power_w: float, current_a: float, energy_wh: float, export_wh: float
) -> None:
    topic = f"{PROEM}/events/rpc"
    [power] = shelly.decode(topic, sample("shelly_proem_em1.json"), "UTC", channel=channel)
    [energy] = shelly.decode(topic, sample("shelly_proem_em1data.json"), "UTC", channel=channel)
    assert (power.power_w, power.current_a, power.voltage_v) == (power_w, current_a, 230.9)
    assert (energy.energy_wh, energy.export_wh) == (energy_wh, export_wh)


def test_given_a_channel_bound_with_partial_when_used_as_a_registry_decoder_then_it_reads_that_channel() -> None:
    decoder: Decoder = functools.partial(shelly.decode, channel=1)
    [r] = decoder(f"{PROEM}/events/rpc", sample("shelly_proem_em1.json"), "UTC")
    assert r.power_w == 95.0
    assert DECODERS["shelly"] is shelly.decode


def test_given_full_status_on_connect_when_decoded_then_em_and_emdata_make_one_reading() -> None:
    params = {
        "ts": 1795813200.0,
        "em:0": {"id": 0, "total_act_power": 300.0, "a_voltage": 230.0, "total_current": 1.3},
        "emdata:0": {"id": 0, "total_act": 5000.0, "total_act_ret": 10.0},
        "switch:0": {"id": 0, "output": True},
        "sys": {"uptime": 12},
    }
    [r] = shelly.decode(f"{PRO3EM}/events/rpc", notify(params, method="NotifyFullStatus"), "UTC")
    assert (r.power_w, r.energy_wh, r.export_wh, r.voltage_v) == (300.0, 5000.0, 10.0, 230.0)


def test_given_no_topic_when_decoded_then_the_device_id_comes_from_src() -> None:
    [r] = shelly.decode("", sample("shelly_pro3em_em.json"), "UTC")
    assert r.device_id == PRO3EM


def test_given_a_custom_topic_prefix_when_decoded_then_the_topic_wins_over_src() -> None:
    # Shelly lets users set the MQTT prefix; the broker ACL protects the topic, not src.
    [r] = shelly.decode("flat-12-meter/events/rpc", sample("shelly_pro3em_em.json"), "UTC")
    assert r.device_id == "flat-12-meter"


@pytest.mark.parametrize(
    ("raw", "kwargs", "code", "reason_part"),
    [
        (sample("shelly_plus1pm_switch.json"), {"channel": 1}, "wrong_component", "carried switch:0, none of"),
        (sample("shelly_pro3em_notifyevent.json"), {}, "wrong_component", "'NotifyEvent'"),
        (sample("shelly_proem_em1.json"), {"channel": 2}, "wrong_component", "none of em:0, emdata:0, em1:2"),
        (notify({"ts": 1795813200}), {}, "wrong_component", "carried no components"),
        (b"not json", {}, "not_json", "not JSON"),
        (b'"NotifyStatus"', {}, "schema", "must be a JSON object"),
        (notify({"em:0": {"total_act_power": 1.0}}), {}, "schema", "no params.ts"),
        (orjson.dumps({"method": "NotifyStatus", "params": 3}), {}, "schema", "no params object"),
        (notify({"ts": "now", "em:0": {"total_act_power": 1.0}}), {}, "schema", "params.ts"),
        (notify({"ts": 1795813200, "em:0": "on"}), {}, "schema", "params.em:0 must be an object"),
        (notify({"ts": 1795813200, "em:0": {"total_act_power": "12"}}), {}, "schema", "em:0.total_act_power"),
        (notify({"ts": 1795813200, "em:0": {"a_voltage": 230.0}}), {}, "no_measurement", "no power"),
        (notify({"ts": 1795813200, "emdata:0": {"total_act": -5.0}}), {}, "implausible", "negative"),
        (notify({"ts": 12, "em:0": {"total_act_power": 1.0}}), {}, "implausible", "clock is not set"),
        (sample("shelly_pro3em_em.json"), {"device_id": "someone-else"}, "spoofed", "expected from"),
    ],
)
def test_given_a_message_without_meter_data_when_decoded_then_it_is_rejected_naming_what_it_carried(
    raw: bytes, kwargs: dict[str, object], code: str, reason_part: str
) -> None:
    with pytest.raises(RejectedReading) as err:
        shelly.decode(f"{PRO3EM}/events/rpc", raw, "UTC", **kwargs)  # type: ignore[arg-type]
    assert err.value.code == code
    assert reason_part in err.value.reason


@pytest.mark.parametrize(
    ("topic", "code"),
    [
        ("shellypro3em-c8f09e8812a4/events", "bad_topic"),
        ("a/b/events/rpc", "bad_topic"),
        ("bad id/events/rpc", "bad_topic"),
    ],
)
def test_given_a_topic_that_is_not_an_rpc_event_topic_when_decoded_then_it_is_rejected(topic: str, code: str) -> None:
    with pytest.raises(RejectedReading) as err:
        shelly.decode(topic, sample("shelly_pro3em_em.json"), "UTC")
    assert err.value.code == code


def test_given_no_topic_and_no_src_when_decoded_then_it_is_rejected() -> None:
    raw = orjson.dumps({"method": "NotifyStatus", "params": {"ts": 1795813200, "em:0": {"total_act_power": 1}}})
    with pytest.raises(RejectedReading, match="src"):
        shelly.decode("", raw, "UTC")


def test_given_a_negative_channel_when_decoding_then_it_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="channel"):
        shelly.decode(f"{PRO3EM}/events/rpc", sample("shelly_pro3em_em.json"), "UTC", channel=-1)


@pytest.mark.parametrize("ts", [-1e308, 1e308])
def test_given_a_timestamp_too_large_for_milliseconds_when_decoded_then_it_is_a_rejection_not_a_crash(
    ts: float,
) -> None:
    # found by the decoder property test: ts * 1000 is infinite and round() raised OverflowError
    em = {"id": 0, "total_act_power": 100.0}
    with pytest.raises(RejectedReading):
        shelly.decode(f"{PRO3EM}/events/rpc", notify({"ts": ts, "em:0": em}), "UTC")
