"""Tasmota ``tele/<topic>/SENSOR`` messages: energy-monitoring builds (``ENERGY``) and SML smart-meter
scripts (an IR reading head on a German/Austrian meter).

``ENERGY`` (every energy driver: POW, Shelly on Tasmota, PZEM, Modbus meters)::

    {"Time": "2024-01-14T18:03:15",
     "ENERGY": {"TotalStartTime": "...", "Total": 1066.0, "Yesterday": 0.0, "Today": 0.0, "Period": 0,
                "Power": 288, "Voltage": 230, "Current": 1.7, "ExportActive": 12.5, ...}}

* ``Total`` (kWh) -> energy_wh, ``ExportActive`` (kWh) -> export_wh, ``Power`` (W) -> power_w,
  ``Voltage`` -> voltage_v, ``Current`` -> current_a.
* **Arrays are channels or phases**, never tariffs: ``Power``, ``Current``, ``Voltage`` always, and
  ``Total``/``ExportActive`` with ``SetOption129 1``. By default channels are summed (voltage: the first);
  ``channels`` (see :class:`~energymon.domain.decoders._common.Channels`) splits them or picks one.
  Tariff counters are ``TotalTariff`` (since 2020): their sum stands in for a missing ``Total``.
* ``Time`` is the device's local wall-clock time without a zone, read in the device's zone; a ``Time``
  with an offset is honoured as given.

SML (``>M`` meter script): the meter object is named by the script (``SML``, ``Strom``, even ``""``);
its keys too. Default names are the Tasmota docs' examples, ``Total_in``/``Total_out`` (kWh) and
``Power_curr`` (W); :class:`SmlMapping` maps others. Without a configured object name the one object
holding the mapped keys is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from energymon.domain.decoders import _common as c
from energymon.errors import ConfigError, RejectedReading

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from energymon.domain.reading import Reading

__all__ = ["TOPIC_FILTER", "SmlMapping", "decode", "device_from_topic"]

TOPIC_FILTER = "tele/+/SENSOR"
_LAYOUT = "a Tasmota sensor topic (tele/<topic>/SENSOR)"


@dataclass(frozen=True, slots=True)
class SmlMapping:
    """Which keys of a Tasmota SML meter object carry what (TOML ``[source_options.sml]``)."""

    meter: str | None = None  # the object's name in the SENSOR message; None: the one holding these keys
    energy: str = "Total_in"
    export: str | None = "Total_out"
    power: str | None = "Power_curr"
    energy_unit: str = "kWh"  # of energy and export: kWh or Wh

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SmlMapping:
        allowed = {"meter", "energy", "export", "power", "energy_unit"}
        unknown = sorted(set(raw) - allowed)
        if unknown:
            raise ConfigError(f"sml: unknown keys {unknown}; expected some of {sorted(allowed)}")
        for key, value in raw.items():
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"sml.{key}: expected a string, got {value!r}")
        mapping = cls(**raw)
        if mapping.energy_unit not in ("kWh", "Wh"):
            raise ConfigError(f"sml.energy_unit: expected kWh or Wh, got {mapping.energy_unit!r}")
        return mapping

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(k for k in (self.energy, self.export, self.power) if k)


def device_from_topic(topic: str) -> str | None:
    """``tele/<t>/SENSOR`` -> ``<t>``; anything else -> ``None``."""
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] == "tele" and parts[2] == "SENSOR" and parts[1]:
        return parts[1]
    return None


def decode(topic: str, payload: bytes, tz: ZoneInfo | str, *, device_id: str | None = None,
           now_ms: int | None = None, channels: object = "sum", sml: SmlMapping | None = None) -> list[Reading]:
    """Decode one Tasmota SENSOR message (``ENERGY`` or SML meter object) into readings.

    ``device_id``: on ``tele/<t>/SENSOR`` the id ``<t>`` must be (``spoofed`` if not); on any other
    topic (a custom FullTopic) the id the bridge derived from its topic pattern.
    """
    msg = c.Message(topic, payload, c.zone(tz), device_id, now_ms)
    mode = c.Channels.parse(channels)
    dev = c.device_for(topic, device_from_topic(topic), device_id, _LAYOUT)
    body = c.load_json_object(payload, "Tasmota")
    energy: Any = body.get("ENERGY")
    if energy is None:
        mapping = sml or SmlMapping()
        meter = _sml_meter(body, mapping)  # what the message is comes before when it is from
        return _sml(dev, _timestamp(body.get("Time"), msg.zone, now_ms), meter, mapping)
    if not isinstance(energy, dict):
        raise RejectedReading(f"ENERGY must be an object, got {type(energy).__name__}", "schema")
    ts_ms = _timestamp(body.get("Time"), msg.zone, now_ms)
    return _energy(dev, ts_ms, energy, mode)


def _timestamp(value: object, tz: ZoneInfo, now_ms: int | None) -> int:
    if not isinstance(value, str):
        raise RejectedReading(f"Time {value!r} is missing or not a string", "bad_timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RejectedReading(f"Time {value!r} is not an ISO-8601 local time", "bad_timestamp") from None
    ts_ms = c.local_to_epoch_ms(parsed, tz) if parsed.tzinfo is None else c.aware_to_epoch_ms(parsed)
    return c.check_ts(ts_ms, value, now_ms)


def _channel_values(energy: dict[str, Any], key: str) -> list[float] | None:
    """A key's values, one per channel (a scalar is one value); ``None`` when absent."""
    value = energy.get(key)
    if value is None:
        return None
    if isinstance(value, list):
        if not value:
            raise RejectedReading(f"ENERGY.{key} is an empty list: expected one value per channel", "schema")
        return [c.number(v, f"ENERGY.{key}[{i}]") for i, v in enumerate(value)]
    return [c.number(value, f"ENERGY.{key}")]


_KEYS = {"power_w": "Power", "energy_kwh": "Total", "export_kwh": "ExportActive", "voltage_v": "Voltage",
         "current_a": "Current"}


def _energy(dev: str, ts_ms: int, energy: dict[str, Any], mode: c.Channels) -> list[Reading]:
    values = {name: _channel_values(energy, key) for name, key in _KEYS.items()}
    if values["energy_kwh"] is None:
        tariffs = _channel_values(energy, "TotalTariff")
        values["energy_kwh"] = None if tariffs is None else [math.fsum(tariffs)]
    if values["energy_kwh"] is None and values["power_w"] is None:
        found = ", ".join(sorted(energy)) or "nothing"
        raise RejectedReading(f"ENERGY block has neither Total nor Power (found {found})", "schema")
    if mode.mode == "sum":
        return [_reading(dev, ts_ms, {
            name: None if v is None else (v[0] if name == "voltage_v" else math.fsum(v)) for name, v in values.items()
        })]
    count = max(len(v) for v in values.values() if v is not None)
    numbers = range(1, count + 1) if mode.mode == "split" else [mode.number]
    readings = []
    for number in numbers:
        if not 1 <= number <= count:
            raise RejectedReading(f"channel {number} was configured, but this device reports channels 1..{count}",
                                  "wrong_component")
        readings.append(_reading(mode.device(dev, number), ts_ms,
                                 {name: _channel(name, v, number, count) for name, v in values.items()}))
    return readings


def _channel(name: str, values: list[float] | None, number: int, count: int) -> float | None:
    if values is None:
        return None
    if len(values) == count:
        return values[number - 1]
    if name == "voltage_v" and len(values) == 1:
        return values[0]  # one voltage for all channels (a dual relay on one line)
    key = _KEYS[name]
    raise RejectedReading(
        f"ENERGY.{key} has {len(values)} value(s) but Power has {count} channels: per-channel readings need "
        f"one {key} per channel (Tasmota SetOption129 1), or channels = sum", "schema")


_LABELS = c.Labels(power="ENERGY.Power", energy="ENERGY.Total", export="ENERGY.ExportActive")


def _reading(dev: str, ts_ms: int, v: dict[str, float | None]) -> Reading:
    energy_kwh, export_kwh = v["energy_kwh"], v["export_kwh"]
    [reading] = c.checked_reading(
        dev, ts_ms, _LABELS, power_w=v["power_w"],
        energy_wh=None if energy_kwh is None else energy_kwh * 1000.0,
        export_wh=None if export_kwh is None else export_kwh * 1000.0,
        voltage_v=v["voltage_v"], current_a=v["current_a"],
    )
    return reading


def _sml_meter(body: dict[str, Any], mapping: SmlMapping) -> dict[str, Any]:
    objects = {k: v for k, v in body.items() if isinstance(v, dict)}
    if mapping.meter is not None:
        meter = objects.get(mapping.meter)
        if meter is None:
            raise RejectedReading(
                f"Tasmota message has no meter object {mapping.meter!r} (configured sml.meter); "
                f"it carried {_describe(body)}", "no_energy_block")
    else:
        holding = [v for v in objects.values() if any(k in v for k in mapping.keys)]
        if len(holding) != 1:
            raise RejectedReading(
                "Tasmota message has no ENERGY block (energy-monitoring build) and no SML meter object with "
                f"{'/'.join(mapping.keys)} (SML script); it carried {_describe(body)}. For a meter script with "
                "other names, map them in source_options.sml", "no_energy_block")
        meter = holding[0]
    return meter


def _sml(dev: str, ts_ms: int, meter: dict[str, Any], mapping: SmlMapping) -> list[Reading]:
    where = f"SML {mapping.meter or 'meter'}"
    scale = 1000.0 if mapping.energy_unit == "kWh" else 1.0
    energy = c.optional_number(meter, mapping.energy, where)
    export = c.optional_number(meter, mapping.export, where) if mapping.export else None
    power = c.optional_number(meter, mapping.power, where) if mapping.power else None
    if energy is None and power is None:
        raise RejectedReading(
            f"{where} object has {', '.join(sorted(meter)) or 'no keys'}: expected {mapping.energy}"
            f"{' or ' + mapping.power if mapping.power else ''}", "schema")
    labels = c.Labels(power=f"{where}.{mapping.power}", energy=f"{where}.{mapping.energy}",
                      export=f"{where}.{mapping.export}")
    return c.checked_reading(dev, ts_ms, labels, power_w=power,
                             energy_wh=None if energy is None else energy * scale,
                             export_wh=None if export is None else export * scale)


def _describe(body: dict[str, Any]) -> str:
    keys = sorted(k if k else '""' for k in body if k != "Time")
    return ", ".join(keys) if keys else "nothing but Time"
