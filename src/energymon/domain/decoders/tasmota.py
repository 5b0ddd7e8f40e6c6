"""Tasmota ``tele/<topic>/SENSOR`` messages (energy-monitoring firmware builds).

Real shape (FACTS.md)::

    {"Time": "2018-02-15T17:37:10",
     "ENERGY": {"TotalStartTime": "...", "Total": 6.294, "Yesterday": 5.340, "Today": 0.954,
                "Period": 217, "Power": 2635, "ApparentPower": 2650, "ReactivePower": 282,
                "Factor": 0.99, "Voltage": 227, "Current": 11.661}}

* ``Total`` is kWh; with tariffs it is ``[total, tariff1, tariff2]`` and element 0 is used.
* ``Power`` is W; multi-channel devices send an array, which is summed. ``Voltage`` and
  ``Current`` are optional (``Current`` may be an array too: summed; ``Voltage`` array: first).
* ``Time`` is the device's local wall-clock time without a zone, read in the device's zone
  (see :func:`~energymon.domain.decoders._common.local_to_epoch_ms` for DST). A ``Time``
  that does carry an offset (``TimeStyle``/``SetOption`` variants) is honoured as given.
* Every other ``ENERGY`` key (``TotalStartTime``, ``Today``, ``Factor``, ...) is ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from energymon.domain.decoders import _common as c
from energymon.errors import RejectedReading

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from energymon.domain.reading import Reading

__all__ = ["TOPIC_FILTER", "decode", "device_from_topic"]

TOPIC_FILTER = "tele/+/SENSOR"


def device_from_topic(topic: str) -> str | None:
    """``tele/<t>/SENSOR`` -> ``<t>``; anything else -> ``None``."""
    parts = topic.split("/")
    if len(parts) == 3 and parts[0] == "tele" and parts[2] == "SENSOR" and parts[1]:
        return parts[1]
    return None


def _scalar_or_sum(value: object, where: str) -> float:
    if isinstance(value, list):
        if not value:
            raise RejectedReading(f"{where} is an empty list", "schema")
        return sum(c.number(v, f"{where}[{i}]") for i, v in enumerate(value))
    return c.number(value, where)


def _total_kwh(value: object) -> float:
    if isinstance(value, list):
        if not value:
            raise RejectedReading("ENERGY.Total is an empty list (expected [total, tariff1, tariff2])", "schema")
        return c.number(value[0], "ENERGY.Total[0]")
    return c.number(value, "ENERGY.Total")


def _timestamp(value: object, tz: ZoneInfo, now_ms: int | None) -> int:
    if not isinstance(value, str):
        raise RejectedReading(f"Time {value!r} is missing or not a string", "bad_timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RejectedReading(f"Time {value!r} is not an ISO-8601 local time", "bad_timestamp") from None
    if parsed.tzinfo is None:
        ts_ms = c.local_to_epoch_ms(parsed, tz)
    else:
        ts_ms = c.aware_to_epoch_ms(parsed)
    return c.check_ts(ts_ms, value, now_ms)


_LABELS = c.Labels(power="ENERGY.Power", energy="ENERGY.Total")


@c.decoder
def decode(msg: c.Message) -> list[Reading]:
    """Decode one Tasmota SENSOR message into one reading.

    ``device_id``, when given, is the id this topic is expected to carry (``spoofed`` if not);
    ``now_ms`` enables the "more than 5 minutes in the future" check.
    """
    topic_device = device_from_topic(msg.topic)
    if topic_device is None:
        raise RejectedReading(f"topic {msg.topic!r} is not a Tasmota sensor topic (tele/<topic>/SENSOR)", "bad_topic")
    c.check_device_id(topic_device, "topic")
    c.check_expected(topic_device, msg.device_id)

    body = c.load_json_object(msg.payload, "Tasmota")
    energy: Any = body.get("ENERGY")
    if energy is None:
        carried = ", ".join(sorted(k for k in body if k != "Time")) or "nothing else"
        raise RejectedReading(
            f"Tasmota message has no ENERGY block (it carried {carried}): not an energy-monitoring sensor",
            "no_energy_block",
        )
    if not isinstance(energy, dict):
        raise RejectedReading(f"ENERGY must be an object, got {type(energy).__name__}", "schema")

    ts_ms = _timestamp(body.get("Time"), msg.zone, msg.now_ms)
    energy_wh = None if energy.get("Total") is None else _total_kwh(energy["Total"]) * 1000.0
    power_w = None if energy.get("Power") is None else _scalar_or_sum(energy["Power"], "ENERGY.Power")
    voltage = energy.get("Voltage")
    if isinstance(voltage, list):
        voltage = voltage[0] if voltage else None
    voltage_v = None if voltage is None else c.number(voltage, "ENERGY.Voltage")
    current_a = None if energy.get("Current") is None else _scalar_or_sum(energy["Current"], "ENERGY.Current")
    if energy_wh is None and power_w is None:
        raise RejectedReading("ENERGY block has neither Total nor Power", "schema")
    return c.checked_reading(topic_device, ts_ms, _LABELS, power_w=power_w, energy_wh=energy_wh,
                             voltage_v=voltage_v, current_a=current_a)
