"""The canonical v1 wire format (``energy/<device_id>/telemetry``) behind the decoder signature."""

from __future__ import annotations

from typing import TYPE_CHECKING

from energymon.domain.decoders import _common as c
from energymon.domain.reading import decode_message, device_from_topic
from energymon.errors import RejectedReading

if TYPE_CHECKING:
    from energymon.domain.reading import Reading

__all__ = ["TOPIC_FILTER", "decode"]

TOPIC_FILTER = "energy/+/telemetry"


@c.decoder
def decode(msg: c.Message) -> list[Reading]:
    """Delegate to :func:`energymon.domain.reading.decode_message` with the topic's device id.

    ``tz`` is validated but unused: canonical timestamps carry their zone.
    """
    topic_device = device_from_topic(msg.topic)
    if topic_device is None:
        raise RejectedReading(
            f"topic {msg.topic!r} is not a canonical telemetry topic (energy/<device_id>/telemetry)", "bad_topic"
        )
    c.check_expected(topic_device, msg.device_id)
    return decode_message(msg.payload, topic_device_id=topic_device, now_ms=msg.now_ms)
