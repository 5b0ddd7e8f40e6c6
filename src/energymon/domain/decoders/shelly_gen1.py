"""Shelly Gen1 devices (Shelly 1PM, 2.5, Plug S, EM, 3EM, Dimmer) over their plain MQTT topics.

A Gen1 device publishes every quantity on its own topic, the payload one bare number::

    shellies/<id>/emeter/<n>/power            W (Shelly EM / 3EM, signed: negative while exporting)
    shellies/<id>/emeter/<n>/total            Wh, cumulative import
    shellies/<id>/emeter/<n>/total_returned   Wh, cumulative export
    shellies/<id>/relay/<n>/power             W (1PM, 2.5, Plug S)
    shellies/<id>/relay/<n>/energy            **watt-minutes**, cumulative: / 60 for Wh (the classic trap)
    shellies/<id>/light/<n>/power, .../energy  the same for dimmers

(Shelly Gen1 API docs, "MQTT" sections of each device.) So each message is a reading holding one value,
stamped with its receive time (the payload has none). Gen1 devices have no per-message channel sum:
pick a channel (default 0) or split (one device ``<id>-ch<n>`` per channel).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from energymon.domain.decoders import _common as c
from energymon.errors import ConfigError, RejectedReading

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from energymon.domain.reading import Reading

__all__ = ["TOPIC_FILTERS", "decode", "device_from_topic"]

# What is measured, by "<kind>/<quantity>": the reading field and the factor to its unit.
_QUANTITIES = {
    "emeter/power": ("power_w", 1.0),
    "emeter/total": ("energy_wh", 1.0),
    "emeter/total_returned": ("export_wh", 1.0),
    "relay/power": ("power_w", 1.0),
    "relay/energy": ("energy_wh", 1.0 / 60.0),  # watt-minutes
    "light/power": ("power_w", 1.0),
    "light/energy": ("energy_wh", 1.0 / 60.0),  # watt-minutes
}
TOPIC_FILTERS = tuple(f"shellies/+/{k.split('/')[0]}/+/{k.split('/')[1]}" for k in _QUANTITIES)
_LAYOUT = "a Shelly Gen1 measurement topic (shellies/<id>/emeter|relay|light/<n>/<quantity>)"
_MAX_PAYLOAD = 64


def device_from_topic(topic: str) -> str | None:
    """``shellies/<id>/<kind>/<n>/<quantity>`` -> ``<id>``; anything else -> ``None``."""
    parts = topic.split("/")
    return parts[1] if len(parts) == 5 and parts[0] == "shellies" and parts[1] else None


def decode(topic: str, payload: bytes, tz: ZoneInfo | str, *, device_id: str | None = None,
           now_ms: int | None = None, channels: object = 0) -> list[Reading]:
    """One Gen1 measurement message into one reading stamped ``now_ms`` (its receive time)."""
    c.zone(tz)
    mode = c.Channels.parse(channels)
    if mode.mode == "sum":
        raise ConfigError("channels: Shelly Gen1 devices publish each channel on its own topic; "
                          "choose a channel number or split, not sum")
    dev = c.device_for(topic, device_from_topic(topic), device_id, _LAYOUT)
    parts = topic.split("/")
    key = "/".join((parts[-3], parts[-1])) if len(parts) >= 3 else ""
    if key not in _QUANTITIES or not parts[-2].isdigit():
        expected = ", ".join(sorted(_QUANTITIES))
        raise RejectedReading(
            f"topic {topic!r} ends in {'/'.join(parts[-3:])!r}: expected <kind>/<n>/<quantity> with one of "
            f"{expected}", "wrong_component")
    number = int(parts[-2])
    if mode.mode == "one" and number != mode.number:
        raise RejectedReading(f"topic {topic!r} is channel {number}, but channel {mode.number} is configured",
                              "wrong_component")
    field, factor = _QUANTITIES[key]
    value = _number(payload, key)
    if now_ms is None:
        raise RejectedReading("Shelly Gen1 messages carry no time and no receive time was given", "bad_timestamp")
    ts_ms = c.check_ts(now_ms, now_ms, now_ms)
    labels = c.Labels(power=key, energy=key, export=key)
    values: dict[str, float | None] = {"power_w": None, "energy_wh": None, "export_wh": None}
    values[field] = value * factor
    return c.checked_reading(mode.device(dev, number), ts_ms, labels, power_w=values["power_w"],
                             energy_wh=values["energy_wh"], export_wh=values["export_wh"])


def _number(payload: bytes, key: str) -> float:
    text = payload[:_MAX_PAYLOAD + 1].decode("ascii", "replace").strip()
    if len(payload) > _MAX_PAYLOAD:
        raise RejectedReading(f"{key} payload is {len(payload)} bytes: expected one number", "schema")
    try:
        value = float(text)
    except ValueError:
        raise RejectedReading(f"{key} payload {text!r} is not a number", "schema") from None
    if not math.isfinite(value):
        raise RejectedReading(f"{key} payload {text!r} is not a finite number", "schema")
    return value
