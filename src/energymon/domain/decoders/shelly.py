"""Shelly Gen2 energy meters (Pro 3EM, Pro EM, Plus PM...) over MQTT RPC notifications.

Topic ``<shelly-id>/events/rpc``; payload a JSON-RPC notification::

    {"src": "shellypro3em-c8f09e8812a4", "dst": "shellypro3em-c8f09e8812a4/events",
     "method": "NotifyStatus",
     "params": {"ts": 1764277200.42, "em:0": {"id": 0, "total_act_power": 412.5, ...}}}

Components read (others are ignored when one of these is present):

* ``em:0`` (three-phase): ``total_act_power`` -> power_w (signed: negative while exporting),
  ``a_voltage`` -> voltage_v, ``total_current`` (else the sum of ``a/b/c_current``) -> current_a.
* ``emdata:0``: ``total_act`` -> energy_wh, ``total_act_ret`` -> export_wh (cumulative Wh).
* ``em1:N`` (single-phase channel N): ``act_power``, ``voltage``, ``current``.
* ``em1data:N``: ``total_act_energy`` -> energy_wh, ``total_act_ret_energy`` -> export_wh.

The caller picks the ``em1`` channel (default 0). ``NotifyFullStatus`` (sent on connect)
is read like ``NotifyStatus``. Anything else (``switch:0`` only, ``NotifyEvent``, another
channel) is rejected with code ``wrong_component`` naming what the message carried.

The device id is the topic's first level (what the broker's ACL protects). Shelly lets users
change that prefix, so ``src`` is used only when no topic is known (``topic == ""``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from energymon.domain.decoders import _common as c
from energymon.errors import RejectedReading

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from energymon.domain.reading import Reading

__all__ = ["TOPIC_FILTER", "decode", "device_from_topic"]

TOPIC_FILTER = "+/events/rpc"
_STATUS_METHODS = ("NotifyStatus", "NotifyFullStatus")
_LABELS = c.Labels(power="power", energy="import counter", export="export counter")


def device_from_topic(topic: str) -> str | None:
    """``<shelly-id>/events/rpc`` -> ``<shelly-id>``; anything else -> ``None``."""
    parts = topic.split("/")
    if len(parts) == 3 and parts[1] == "events" and parts[2] == "rpc" and parts[0]:
        return parts[0]
    return None


def _component(params: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = params.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise RejectedReading(f"params.{key!s} must be an object, got {type(value).__name__}", "schema")
    return value


def _sum_present(comp: dict[str, Any], keys: tuple[str, ...], where: str) -> float | None:
    values = [c.optional_number(comp, k, where) for k in keys]
    present = [v for v in values if v is not None]
    return math.fsum(present) if present else None


def _device_id(topic: str, body: dict[str, Any]) -> str:
    if topic:
        from_topic = device_from_topic(topic)
        if from_topic is None:
            raise RejectedReading(
                f"topic {topic!r} is not a Shelly RPC notification topic (<shelly-id>/events/rpc)",
                "bad_topic",
            )
        return c.check_device_id(from_topic, "topic")
    src = body.get("src")
    if not isinstance(src, str) or not src:
        raise RejectedReading("no topic and no 'src' in the payload: cannot tell which Shelly sent it", "schema")
    return c.check_device_id(src, "payload's src")


def _describe(params: dict[str, Any]) -> str:
    keys = sorted(k for k in params if k != "ts")
    return ", ".join(keys) if keys else "no components"


def decode(topic: str, payload: bytes, tz: ZoneInfo | str, *, device_id: str | None = None,
           now_ms: int | None = None, channel: int = 0) -> list[Reading]:
    """Decode one Shelly Gen2 ``NotifyStatus`` into one reading.

    ``tz`` is accepted for a uniform decoder signature and validated, but unused: Shelly
    timestamps are epoch seconds. ``channel`` selects ``em1:N``/``em1data:N``.
    """
    zone = c.zone(tz)
    if isinstance(channel, bool) or not isinstance(channel, int) or channel < 0:
        raise ValueError(f"channel must be a non-negative integer, got {channel!r}")
    return _decode(c.Message(topic, payload, zone, device_id, now_ms), channel)


@dataclass(frozen=True, slots=True)
class _Meter:
    """The meter components one notification carries (None: absent) for the chosen channel."""

    em: dict[str, Any] | None  # em:0, three-phase power
    emdata: dict[str, Any] | None  # emdata:0, three-phase counters
    em1: dict[str, Any] | None  # em1:N, one channel's power
    em1data: dict[str, Any] | None  # em1data:N, one channel's counters
    channel: int


def _decode(msg: c.Message, channel: int) -> list[Reading]:
    body = c.load_json_object(msg.payload, "Shelly")
    dev = _device_id(msg.topic, body)
    c.check_expected(dev, msg.device_id)
    params = _status_params(body)
    meter = _meter(params, channel)
    ts = params.get("ts")
    if ts is None:
        raise RejectedReading("Shelly NotifyStatus has no params.ts", "schema")
    ts_ms = c.check_ts(round(c.number(ts, "params.ts") * 1000), ts, msg.now_ms)
    power_w, voltage_v, current_a = _power_voltage_current(meter)
    energy_wh, export_wh = _counters(meter)
    if power_w is None and energy_wh is None:
        raise RejectedReading(
            f"Shelly NotifyStatus carried {_describe(params)} but no power "
            "(total_act_power/act_power) and no energy counter (total_act/total_act_energy)",
            "no_measurement",
        )
    return c.checked_reading(dev, ts_ms, _LABELS, power_w=power_w, energy_wh=energy_wh, export_wh=export_wh,
                             voltage_v=voltage_v, current_a=current_a)


def _status_params(body: dict[str, Any]) -> dict[str, Any]:
    method = body.get("method")
    if method not in _STATUS_METHODS:
        raise RejectedReading(
            f"Shelly {method!r} notification carries no meter status (only NotifyStatus is read)",
            "wrong_component",
        )
    params = body.get("params")
    if not isinstance(params, dict):
        raise RejectedReading("Shelly NotifyStatus has no params object", "schema")
    return params


def _meter(params: dict[str, Any], channel: int) -> _Meter:
    meter = _Meter(
        em=_component(params, "em:0"),
        emdata=_component(params, "emdata:0"),
        em1=_component(params, f"em1:{channel}"),
        em1data=_component(params, f"em1data:{channel}"),
        channel=channel,
    )
    if meter.em is None and meter.emdata is None and meter.em1 is None and meter.em1data is None:
        raise RejectedReading(
            f"Shelly NotifyStatus carried {_describe(params)}, none of em:0, emdata:0, "
            f"em1:{channel}, em1data:{channel}",
            "wrong_component",
        )
    return meter


def _power_voltage_current(meter: _Meter) -> tuple[float | None, float | None, float | None]:
    """From em:0 (three-phase) first; what it lacks from em1:N."""
    power_w = voltage_v = current_a = None
    if meter.em is not None:
        power_w = c.optional_number(meter.em, "total_act_power", "em:0")
        voltage_v = c.optional_number(meter.em, "a_voltage", "em:0")
        current_a = c.optional_number(meter.em, "total_current", "em:0")
        if current_a is None:
            current_a = _sum_present(meter.em, ("a_current", "b_current", "c_current"), "em:0")
    if meter.em1 is not None:
        where = f"em1:{meter.channel}"
        power_w = c.optional_number(meter.em1, "act_power", where) if power_w is None else power_w
        voltage_v = c.optional_number(meter.em1, "voltage", where) if voltage_v is None else voltage_v
        current_a = c.optional_number(meter.em1, "current", where) if current_a is None else current_a
    return power_w, voltage_v, current_a


def _counters(meter: _Meter) -> tuple[float | None, float | None]:
    """(import Wh, export Wh) from emdata:0 first; what it lacks from em1data:N."""
    energy_wh = export_wh = None
    if meter.emdata is not None:
        energy_wh = c.optional_number(meter.emdata, "total_act", "emdata:0")
        export_wh = c.optional_number(meter.emdata, "total_act_ret", "emdata:0")
    if meter.em1data is not None:
        where = f"em1data:{meter.channel}"
        if energy_wh is None:
            energy_wh = c.optional_number(meter.em1data, "total_act_energy", where)
        if export_wh is None:
            export_wh = c.optional_number(meter.em1data, "total_act_ret_energy", where)
    return energy_wh, export_wh
