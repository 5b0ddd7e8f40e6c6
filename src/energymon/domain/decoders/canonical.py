"""The canonical v1 wire format (``energy/<device_id>/telemetry``) behind the decoder signature."""

from __future__ import annotations

from typing import TYPE_CHECKING

from energymon.domain.decoders import _common as c
from energymon.domain.reading import Reading, decode_message, device_from_topic
from energymon.errors import RejectedReading

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = ["TOPIC_FILTER", "decode"]

TOPIC_FILTER = "energy/+/telemetry"


def decode(
    topic: str,
    payload: bytes,
    tz: ZoneInfo | str,
    *,
    device_id: str | None = None,
    now_ms: int | None = None,
) -> list[Reading]:
    """Delegate to :func:`energymon.domain.reading.decode_message` with the topic's device id.

    ``tz`` is validated but unused: canonical timestamps carry their zone.
    """
    c.zone(tz)
    topic_device = device_from_topic(topic)
    if topic_device is None:
        raise RejectedReading(
            f"topic {topic!r} is not a canonical telemetry topic (energy/<device_id>/telemetry)", "bad_topic"
        )
    c.check_expected(topic_device, device_id)
    return decode_message(payload, topic_device_id=topic_device, now_ms=now_ms)
