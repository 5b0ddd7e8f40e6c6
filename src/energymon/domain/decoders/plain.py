"""Plain-value topics: one number per topic (ESPHome's ``<node>/sensor/<name>/state``, emoncms's
``emon/<node>/<input>``), or one flat JSON object of named numbers (emoncms's ``emon/<node>``).

Nothing in such a message says what it measures, nor in which unit: the configured ``quantities`` map
each name (the ``{quantity}`` level of the topic pattern, or a key of the JSON object) to a reading field
with its unit:

    power_w, power_kw, energy_wh, energy_kwh, export_wh, export_kwh, voltage_v, current_a

A name not in the mapping is refused naming the names that are mapped (a JSON object: its unmapped
keys are ignored as long as one key is mapped). The message carries no time: it is stamped on arrival.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from energymon.domain.decoders import _common as c
from energymon.errors import ConfigError, RejectedReading

if TYPE_CHECKING:
    from collections.abc import Mapping
    from zoneinfo import ZoneInfo

    from energymon.domain.reading import Reading

__all__ = ["FIELDS", "check_quantities", "decode"]

# field name -> (Reading attribute, factor to its unit)
FIELDS = {
    "power_w": ("power_w", 1.0), "power_kw": ("power_w", 1000.0),
    "energy_wh": ("energy_wh", 1.0), "energy_kwh": ("energy_wh", 1000.0),
    "export_wh": ("export_wh", 1.0), "export_kwh": ("export_wh", 1000.0),
    "voltage_v": ("voltage_v", 1.0), "current_a": ("current_a", 1.0),
}
_MAX_PAYLOAD = 4096


def check_quantities(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"quantities: expected a table of name = field, got {raw!r}")
    for name, field in raw.items():
        if field not in FIELDS:
            raise ConfigError(f"quantities.{name}: expected one of {', '.join(FIELDS)}, got {field!r}")
    return dict(raw)


def decode(topic: str, payload: bytes, tz: ZoneInfo | str, *, device_id: str | None = None,
           now_ms: int | None = None, quantity: str | None = None,
           quantities: Mapping[str, str] | None = None) -> list[Reading]:
    """One plain-value message into one reading for ``device_id`` (derived by the topic pattern)."""
    c.zone(tz)
    mapping = dict(quantities or {})
    if not mapping:
        raise ConfigError("quantities: a plain-value source needs source_options.quantities (name = field)")
    if device_id is None:
        raise RejectedReading(f"topic {topic!r}: no topic pattern named its device", "bad_topic")
    dev = c.check_device_id(device_id, "topic pattern")
    if len(payload) > _MAX_PAYLOAD:
        raise RejectedReading(f"plain-value payload is {len(payload)} bytes, over {_MAX_PAYLOAD}", "too_large")
    values: dict[str, float] = {}
    stripped = payload.strip()
    if stripped.startswith(b"{"):
        body = c.load_json_object(stripped, "plain-value")
        for key, raw in body.items():
            if key in mapping:
                values[key] = c.number(raw, key)
        if not values:
            raise RejectedReading(
                f"JSON object has {', '.join(sorted(body)) or 'no keys'}: expected one of the configured "
                f"quantities ({', '.join(sorted(mapping))})", "wrong_component")
    else:
        name = quantity if quantity is not None else topic.rsplit("/", 1)[-1]
        if name not in mapping:
            raise RejectedReading(
                f"topic {topic!r} measures {name!r}: expected one of the configured quantities "
                f"({', '.join(sorted(mapping))})", "wrong_component")
        values[name] = _number(stripped, name)
    if now_ms is None:
        raise RejectedReading("plain-value messages carry no time and no receive time was given", "bad_timestamp")
    fields: dict[str, Any] = {}
    for name, value in values.items():
        attribute, factor = FIELDS[mapping[name]]
        fields[attribute] = value * factor
    labels = c.Labels(power="power", energy="energy counter", export="export counter")
    return c.checked_reading(dev, c.check_ts(now_ms, now_ms, now_ms), labels, power_w=fields.get("power_w"),
                             energy_wh=fields.get("energy_wh"), export_wh=fields.get("export_wh"),
                             voltage_v=fields.get("voltage_v"), current_a=fields.get("current_a"))


def _number(text: bytes, name: str) -> float:
    shown = text[:40].decode("utf-8", "replace")
    try:
        value = float(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise RejectedReading(f"{name} state {shown!r} is not a number", "schema") from None
    if not math.isfinite(value):
        raise RejectedReading(f"{name} state {shown!r} is not a finite number", "schema")
    return value
