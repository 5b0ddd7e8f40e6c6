"""Which payload format the bridge reads from the broker, and in which zone each device's local times are."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from energymon.domain.decoders import DECODERS, TOPIC_FILTERS

if TYPE_CHECKING:
    from energymon.adapters.mqtt.bridge import Decoder
    from energymon.domain.reading import Reading
    from energymon.processing import ZoneResolver

__all__ = ["bridge_decoder"]


def _topic_device(source: str, topic: str) -> str:
    parts = topic.split("/")
    # tele/<t>/SENSOR (Tasmota) and <id>/events/rpc (Shelly Gen2): the device is the topic's own level.
    return parts[1] if source == "tasmota" and len(parts) > 1 else parts[0]


def bridge_decoder(source: str, zones: ZoneResolver) -> tuple[Decoder, str]:
    """A decoder for the bridge and the subscription filter of ``source`` (tasmota or shelly)."""
    topic_filter = TOPIC_FILTERS.get(source)
    if source not in DECODERS or topic_filter is None:
        raise ValueError(f"source {source!r} cannot be read from a broker")
    decode = DECODERS[source]

    def decoder(topic: str, payload: bytes) -> list[Reading]:
        device = _topic_device(source, topic)
        return decode(topic, payload, zones(device), now_ms=int(time.time() * 1000))

    return decoder, topic_filter
