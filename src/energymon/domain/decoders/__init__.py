"""Device payload decoders: one module per wire format, one signature for all.

Every decoder is called as ``decode(topic, payload, tz, *, device_id=None, now_ms=None)``
and returns ``list[Reading]`` or raises :class:`~energymon.errors.RejectedReading` whose
``reason`` a person can read and whose ``code`` is short and stable (``not_json``,
``schema``, ``no_energy_block``, ``crc_mismatch``, ``wrong_component``, ...).

* ``tz`` is the device's zone (``ZoneInfo`` or IANA name; an unknown name raises
  :class:`~energymon.errors.ConfigError`), needed where devices send local time.
* ``device_id`` is the configured/expected id: a message naming another device is rejected
  as ``spoofed``. DSMR telegrams carry no id, so there it is required.
* ``now_ms`` enables the "more than 5 minutes in the future" check.

Extra per-format options are keyword-only on the module function (``shelly.decode(...,
channel=1)``): bind them with :func:`functools.partial` to get a :class:`Decoder`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from energymon.domain.decoders import canonical, dsmr, plain, shelly, shelly_gen1, tasmota
from energymon.domain.decoders._common import Decoder

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DECODERS",
    "TOPIC_FILTERS",
    "Decoder",
    "canonical",
    "decoder_for_topic",
    "dsmr",
    "plain",
    "shelly",
    "shelly_gen1",
    "tasmota",
    "topic_matches",
]


DECODERS: Mapping[str, Decoder] = MappingProxyType(
    {
        "canonical": canonical.decode,
        "tasmota": tasmota.decode,
        "shelly": shelly.decode,
        "shelly-gen1": shelly_gen1.decode,
        "plain": plain.decode,
        "dsmr": dsmr.decode,
    }
)

# MQTT filter of each format's default topics (for recognising a topic's format; the bridge subscribes
# to the precise filters of energymon.adapters.mqtt.sources.DEFAULT_TOPICS); ``None``: not received
# over MQTT (P1 is read from the meter's serial port by the agent, which then publishes canonical messages).
TOPIC_FILTERS: Mapping[str, str | None] = MappingProxyType(
    {
        "canonical": canonical.TOPIC_FILTER,
        "tasmota": tasmota.TOPIC_FILTER,
        "shelly": shelly.TOPIC_FILTER,
        "shelly-gen1": "shellies/+/+/+/+",
        "plain": "+/sensor/+/state",  # ESPHome's layout; configured per installation
        "dsmr": dsmr.TOPIC_FILTER,
    }
)


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT filter matching (``+`` one level, ``#`` the rest; ``$``-topics never match wildcards)."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    levels = topic.split("/")
    parts = topic_filter.split("/")
    for i, part in enumerate(parts):
        if part == "#":
            return True
        if i >= len(levels) or (part != "+" and part != levels[i]):
            return False
    return len(levels) == len(parts)


def decoder_for_topic(topic: str) -> str | None:
    """The name of the format whose subscription filter matches ``topic`` (first match wins)."""
    for name, topic_filter in TOPIC_FILTERS.items():
        if topic_filter is not None and topic_matches(topic_filter, topic):
            return name
    return None
