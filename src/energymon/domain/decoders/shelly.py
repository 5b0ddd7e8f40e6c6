"""Shelly Gen2/Gen3 devices over MQTT RPC notifications: energy meters and metered switches/plugs.

Topic ``<shelly-id>/events/rpc``; payload a JSON-RPC notification::

    {"src": "shellypro3em-c8f09e8812a4", "dst": "shellypro3em-c8f09e8812a4/events",
     "method": "NotifyStatus",
     "params": {"ts": 1764277200.42, "em:0": {"id": 0, "total_act_power": 412.5, ...}}}

Components read (from the Shelly Gen2+ API docs, components EM, EMData, EM1, EM1Data, Switch, PM1):

* ``em:0`` (three-phase Pro 3EM): ``total_act_power`` -> power_w (signed: negative while exporting),
  ``a_voltage`` -> voltage_v, ``total_current`` (else the sum of ``a/b/c_current``) -> current_a;
  ``emdata:0``: ``total_act`` -> energy_wh, ``total_act_ret`` -> export_wh (cumulative Wh).
* Channel components, N = the channel: ``em1:N`` (``act_power``, ``voltage``, ``current``) with
  ``em1data:N`` (``total_act_energy``, ``total_act_ret_energy``): Pro EM, Pro 3EM monophase;
  ``switch:N`` (Plus Plug S, Plus/Pro 1PM, 2PM) and ``pm1:N`` (Plus PM Mini, Plug PM Gen3): ``apower`` (W),
  ``voltage``, ``current``, ``aenergy.total`` -> energy_wh and ``ret_aenergy.total`` -> export_wh (Wh).

``channels`` (see :class:`~energymon.domain.decoders._common.Channels`) picks one channel (default 0,
as ``channel=N``), sums them, or splits them into one device each (``<id>-chN``). ``em:0``/``emdata:0``
describe the whole device and win over channel components. ``NotifyFullStatus`` (sent on connect) is
read like ``NotifyStatus``; ``NotifyStatus`` carries only what changed, so a reading may hold only power
or only a counter. Anything else (``NotifyEvent``, only other channels) is rejected with code
``wrong_component`` naming what the message carried.

The device id is the topic's first level (what the broker's ACL protects). Shelly lets users
change that prefix, so ``src`` is used only when no topic is known (``topic == ""``); on a topic of a
configured pattern the bridge passes the id it derived.
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


def _device_id(topic: str, body: dict[str, Any], expected: str | None) -> str:
    if topic:
        return c.device_for(topic, device_from_topic(topic), expected,
                            "a Shelly RPC notification topic (<shelly-id>/events/rpc)")
    src = body.get("src")
    if not isinstance(src, str) or not src:
        raise RejectedReading("no topic and no 'src' in the payload: cannot tell which Shelly sent it", "schema")
    dev = c.check_device_id(src, "payload's src")
    c.check_expected(dev, expected)
    return dev


def _describe(params: dict[str, Any]) -> str:
    keys = sorted(k for k in params if k != "ts")
    return ", ".join(keys) if keys else "no components"


def decode(topic: str, payload: bytes, tz: ZoneInfo | str, *, device_id: str | None = None,
           now_ms: int | None = None, channel: int = 0, channels: object = None) -> list[Reading]:
    """Decode one Shelly Gen2+ ``NotifyStatus`` into readings.

    ``tz`` is accepted for a uniform decoder signature and validated, but unused: Shelly
    timestamps are epoch seconds. ``channel`` selects channel N; ``channels`` ("sum", "split", N)
    overrides it.
    """
    zone = c.zone(tz)
    if isinstance(channel, bool) or not isinstance(channel, int) or channel < 0:
        raise ValueError(f"channel must be a non-negative integer, got {channel!r}")
    mode = c.Channels("one", channel) if channels is None else c.Channels.parse(channels)
    return _decode(c.Message(topic, payload, zone, device_id, now_ms), mode)


_CHANNEL_KINDS = ("em1", "em1data", "switch", "pm1")


@dataclass(frozen=True, slots=True)
class _Values:
    power_w: float | None = None
    voltage_v: float | None = None
    current_a: float | None = None
    energy_wh: float | None = None
    export_wh: float | None = None

    def or_(self, other: _Values) -> _Values:
        """Each field from self, else from other."""
        return _Values(*(a if a is not None else b for a, b in zip(self._tuple(), other._tuple(), strict=True)))

    def _tuple(self) -> tuple[float | None, ...]:
        return (self.power_w, self.voltage_v, self.current_a, self.energy_wh, self.export_wh)


def _decode(msg: c.Message, mode: c.Channels) -> list[Reading]:
    body = c.load_json_object(msg.payload, "Shelly")
    dev = _device_id(msg.topic, body, msg.device_id)
    params = _status_params(body)
    ts = params.get("ts")
    device_wide = _three_phase(params)
    channels = _channels(params)
    if mode.mode == "one":
        wanted = {mode.number: channels[mode.number]} if mode.number in channels else {}
    else:
        wanted = channels
    if device_wide is None and not wanted:
        n = mode.number if mode.mode == "one" else "N"
        raise RejectedReading(
            f"Shelly NotifyStatus carried {_describe(params)}, none of em:0, emdata:0, "
            f"em1:{n}, em1data:{n}, switch:{n}, pm1:{n}",
            "wrong_component",
        )
    if ts is None:
        raise RejectedReading("Shelly NotifyStatus has no params.ts", "schema")
    ts_ms_f = c.number(ts, "params.ts") * 1000
    # A huge ts (1e308 s) is infinite in ms: round() would raise; 0 is refused by the window like any old time.
    ts_ms = c.check_ts(round(ts_ms_f) if math.isfinite(ts_ms_f) else 0, ts, msg.now_ms)
    if mode.mode == "split" and device_wide is None:
        return [_reading(mode.device(dev, n), ts_ms, v, params) for n, v in sorted(wanted.items())]
    # One reading: em:0/emdata:0 describe the whole device; what they lack comes from the channel(s).
    merged = _sum(list(wanted.values()))
    if device_wide is not None:
        merged = device_wide.or_(merged)
    return [_reading(dev, ts_ms, merged, params)]


def _sum(values: list[_Values]) -> _Values:
    def total(name: str) -> float | None:
        present = [getattr(v, name) for v in values if getattr(v, name) is not None]
        return math.fsum(present) if present else None

    voltages = [v.voltage_v for v in values if v.voltage_v is not None]
    return _Values(total("power_w"), voltages[0] if voltages else None, total("current_a"), total("energy_wh"),
                   total("export_wh"))


def _reading(dev: str, ts_ms: int, v: _Values, params: dict[str, Any]) -> Reading:
    if v.power_w is None and v.energy_wh is None:
        raise RejectedReading(
            f"Shelly NotifyStatus carried {_describe(params)} but no power "
            "(total_act_power/act_power/apower) and no energy counter (total_act/total_act_energy/aenergy.total)",
            "no_measurement",
        )
    [reading] = c.checked_reading(dev, ts_ms, _LABELS, power_w=v.power_w, energy_wh=v.energy_wh,
                                  export_wh=v.export_wh, voltage_v=v.voltage_v, current_a=v.current_a)
    return reading


def _status_params(body: dict[str, Any]) -> dict[str, Any]:
    method = body.get("method")
    if method not in _STATUS_METHODS:
        raise RejectedReading(
            f"Shelly {method!r} notification carries no meter status: expected NotifyStatus or NotifyFullStatus",
            "wrong_component",
        )
    params = body.get("params")
    if not isinstance(params, dict):
        raise RejectedReading("Shelly NotifyStatus has no params object", "schema")
    return params


def _three_phase(params: dict[str, Any]) -> _Values | None:
    em = _component(params, "em:0")
    emdata = _component(params, "emdata:0")
    if em is None and emdata is None:
        return None
    power_w = voltage_v = current_a = energy_wh = export_wh = None
    if em is not None:
        power_w = c.optional_number(em, "total_act_power", "em:0")
        voltage_v = c.optional_number(em, "a_voltage", "em:0")
        current_a = c.optional_number(em, "total_current", "em:0")
        if current_a is None:
            current_a = _sum_present(em, ("a_current", "b_current", "c_current"), "em:0")
    if emdata is not None:
        energy_wh = c.optional_number(emdata, "total_act", "emdata:0")
        export_wh = c.optional_number(emdata, "total_act_ret", "emdata:0")
    return _Values(power_w, voltage_v, current_a, energy_wh, export_wh)


def _channels(params: dict[str, Any]) -> dict[int, _Values]:
    """Every channel component in the message, by channel number."""
    found: dict[int, _Values] = {}
    for key in params:
        kind, _, number = key.partition(":")
        if kind not in _CHANNEL_KINDS or not number.isdigit():
            continue
        comp = _component(params, key)
        assert comp is not None
        n = int(number)
        found[n] = found.get(n, _Values()).or_(_channel_values(kind, key, comp))
    return found


def _channel_values(kind: str, key: str, comp: dict[str, Any]) -> _Values:
    if kind == "em1":
        return _Values(c.optional_number(comp, "act_power", key), c.optional_number(comp, "voltage", key),
                       c.optional_number(comp, "current", key))
    if kind == "em1data":
        return _Values(energy_wh=c.optional_number(comp, "total_act_energy", key),
                       export_wh=c.optional_number(comp, "total_act_ret_energy", key))
    return _Values(c.optional_number(comp, "apower", key), c.optional_number(comp, "voltage", key),
                   c.optional_number(comp, "current", key), _energy_total(comp, "aenergy", key),
                   _energy_total(comp, "ret_aenergy", key))


def _energy_total(comp: dict[str, Any], name: str, key: str) -> float | None:
    counter = comp.get(name)
    if counter is None:
        return None
    if not isinstance(counter, dict):
        raise RejectedReading(f"{key}.{name} must be an object with total (Wh), got {counter!r}", "schema")
    return c.optional_number(counter, "total", f"{key}.{name}")
