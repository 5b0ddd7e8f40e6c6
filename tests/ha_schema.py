"""The keys Home Assistant documents for MQTT discovery of a ``sensor`` and a ``binary_sensor``, as a checker.

Taken from Home Assistant's MQTT sensor / binary sensor pages and the MQTT integration page (device, origin and
availability blocks; full key names, not abbreviations), 2025. A payload with a key HA does not document, a
missing required key, or a device class, state class and unit that HA would refuse together, is a problem.
"""

from __future__ import annotations

import re
from typing import Any

_COMMON = {
    "availability", "availability_mode", "availability_template", "availability_topic", "device", "device_class",
    "enabled_by_default", "encoding", "entity_category", "entity_picture", "expire_after", "force_update", "icon",
    "json_attributes_template", "json_attributes_topic", "name", "object_id", "default_entity_id", "origin",
    "payload_available", "payload_not_available", "platform", "qos", "state_topic", "unique_id", "value_template",
}
KEYS = {
    "sensor": _COMMON | {"last_reset_value_template", "options", "suggested_display_precision", "state_class",
                         "unit_of_measurement"},
    "binary_sensor": _COMMON | {"off_delay", "payload_off", "payload_on"},
}
REQUIRED = {"state_topic"}
DEVICE_KEYS = {"configuration_url", "connections", "hw_version", "identifiers", "manufacturer", "model", "model_id",
               "name", "serial_number", "suggested_area", "sw_version", "via_device"}
ORIGIN_KEYS = {"name", "sw_version", "support_url"}
AVAILABILITY_KEYS = {"topic", "payload_available", "payload_not_available", "value_template"}
STATE_CLASSES = {"measurement", "total", "total_increasing"}
# device class -> (units HA accepts, state classes HA accepts); monetary takes any ISO 4217 code.
SENSOR_CLASSES: dict[str, tuple[set[str] | None, set[str]]] = {
    "energy": ({"Wh", "kWh", "MWh", "GJ", "MJ", "mWh", "kJ", "J", "GWh", "TWh", "cal", "kcal", "Mcal", "Gcal"},
               {"total", "total_increasing"}),
    "power": ({"W", "kW", "MW", "GW", "TW", "mW", "BTU/h"}, {"measurement"}),
    "monetary": (None, {"total"}),
}
BINARY_CLASSES = {"problem", "power", "running", "safety", "connectivity", "plug", "battery"}
_ID = re.compile(r"\A[a-zA-Z0-9_-]+\Z")


def problems(topic: str, payload: dict[str, Any], prefix: str = "homeassistant") -> list[str]:
    """Everything about one discovery message that HA's documentation does not allow (empty: fine)."""
    out: list[str] = []
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != prefix or parts[4] != "config":
        return [f"{topic}: not <prefix>/<component>/<node_id>/<object_id>/config"]
    component, node, object_id = parts[1:4]
    if component not in KEYS:
        return [f"{topic}: component {component!r} is not sensor or binary_sensor"]
    for part in (node, object_id):
        if not _ID.fullmatch(part):
            out.append(f"{topic}: {part!r} has characters outside [a-zA-Z0-9_-]")
    out += [f"{topic}: undocumented key {k!r}" for k in sorted(set(payload) - KEYS[component])]
    out += [f"{topic}: missing {k!r}" for k in sorted(REQUIRED - set(payload))]
    if not payload.get("unique_id"):
        out.append(f"{topic}: no unique_id")
    device = payload.get("device")
    if not isinstance(device, dict) or not device.get("identifiers"):
        out.append(f"{topic}: no device block with identifiers")
    else:
        out += [f"{topic}: device has undocumented key {k!r}" for k in sorted(set(device) - DEVICE_KEYS)]
    origin = payload.get("origin", {})
    out += [f"{topic}: origin has undocumented key {k!r}" for k in sorted(set(origin) - ORIGIN_KEYS)]
    if "origin" in payload and not origin.get("name"):
        out.append(f"{topic}: origin without a name")
    for entry in payload.get("availability", []):
        if "topic" not in entry:
            out.append(f"{topic}: availability entry without a topic")
        out += [f"{topic}: availability has undocumented key {k!r}" for k in sorted(set(entry) - AVAILABILITY_KEYS)]
    if payload.get("availability_mode", "latest") not in ("all", "any", "latest"):
        out.append(f"{topic}: availability_mode {payload['availability_mode']!r}")
    if component == "sensor":
        out += _sensor_problems(topic, payload)
    elif payload.get("device_class") is not None and payload["device_class"] not in BINARY_CLASSES:
        out.append(f"{topic}: binary_sensor device_class {payload['device_class']!r}")
    return out


def _sensor_problems(topic: str, payload: dict[str, Any]) -> list[str]:
    out = []
    state_class = payload.get("state_class")
    if state_class is not None and state_class not in STATE_CLASSES:
        out.append(f"{topic}: state_class {state_class!r}")
    device_class = payload.get("device_class")
    if device_class in SENSOR_CLASSES:
        units, classes = SENSOR_CLASSES[device_class]
        unit = payload.get("unit_of_measurement")
        if units is None and not (isinstance(unit, str) and re.fullmatch(r"[A-Z]{3}", unit)):
            out.append(f"{topic}: monetary unit {unit!r} is not an ISO 4217 code")
        elif units is not None and unit not in units:
            out.append(f"{topic}: unit {unit!r} is not one HA accepts for {device_class}")
        if state_class not in classes:
            out.append(f"{topic}: state_class {state_class!r} is not one HA accepts for {device_class}")
    if "last_reset_value_template" in payload and state_class != "total":
        out.append(f"{topic}: last_reset_value_template needs state_class total")
    return out
