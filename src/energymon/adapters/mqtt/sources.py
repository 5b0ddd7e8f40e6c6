"""Which payload format the bridge reads from the broker, on which topics, and how each becomes readings.

One function, :func:`message_decoder`, is what the bridge runs and what ``energymon decode`` runs: the
topic is routed by the source's topic patterns (defaults below, or ``source_options.topics``), the device
id is derived by the pattern rule (:mod:`energymon.domain.decoders.topics`), and the format's decoder
reads the payload in that device's zone. A message on a subscribed topic that no pattern routes is
rejected with code ``unroutable`` (so dead-lettered, never dropped).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from energymon.domain.decoders import DECODERS, plain, shelly, shelly_gen1, tasmota
from energymon.domain.decoders._common import Channels
from energymon.domain.decoders.tasmota import SmlMapping
from energymon.domain.decoders.topics import TopicPattern
from energymon.errors import ConfigError, RejectedReading

if TYPE_CHECKING:
    from collections.abc import Callable

    from energymon.adapters.mqtt.bridge import Decoder
    from energymon.domain.reading import Reading

__all__ = ["BROKER_SOURCES", "DEFAULT_TOPICS", "SourceOptions", "bridge_decoder", "message_decoder"]

# Default topic patterns per format read from a broker.
DEFAULT_TOPICS: dict[str, tuple[str, ...]] = {
    "tasmota": ("tele/{device}/SENSOR",),
    "shelly": ("{device}/events/rpc",),
    "shelly-gen1": tuple(f.replace("shellies/+/", "shellies/{device}/", 1) for f in shelly_gen1.TOPIC_FILTERS),
}
# Plain values: no default topic layout would be right for everyone; ESPHome's is the example.
DEFAULT_TOPICS["plain"] = ("{device}/sensor/{quantity}/state",)
BROKER_SOURCES = ("canonical", *DEFAULT_TOPICS)


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """``[source_options]`` in the TOML: topic patterns, multi-channel choice, SML key mapping, and the
    quantities of plain-value topics."""

    topics: tuple[TopicPattern, ...] = ()
    channels: Channels | None = None  # None: the format's default (Tasmota sum, Shelly channel 0)
    sml: SmlMapping | None = None
    quantities: tuple[tuple[str, str], ...] = ()  # plain values: (name, field)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> SourceOptions:
        raw = dict(raw or {})
        unknown = sorted(set(raw) - {"topics", "channels", "sml", "quantities"})
        if unknown:
            raise ConfigError(f"source_options: unknown keys {unknown}; expected topics, channels, sml, quantities")
        topics = raw.get("topics", [])
        if isinstance(topics, str):
            topics = [topics]
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise ConfigError(f"source_options.topics: expected a list of topic patterns, got {topics!r}")
        sml = raw.get("sml")
        if sml is not None and not isinstance(sml, dict):
            raise ConfigError(f"source_options.sml: expected a table, got {sml!r}")
        channels = raw.get("channels")
        return cls(
            topics=tuple(TopicPattern(t) for t in topics),
            channels=None if channels is None else Channels.parse(channels),
            sml=None if sml is None else SmlMapping.from_dict(sml),
            quantities=() if "quantities" not in raw else tuple(plain.check_quantities(raw["quantities"]).items()),
        )


def _format_decoder(source: str, options: SourceOptions) -> Callable[..., list[Reading]]:
    extra: dict[str, Any] = {}
    if options.channels is not None:
        extra["channels"] = options.channels
    if source == "tasmota":
        return functools.partial(tasmota.decode, sml=options.sml, **extra)
    if source == "shelly":
        return functools.partial(shelly.decode, **extra)
    if source == "shelly-gen1":
        return functools.partial(shelly_gen1.decode, **extra)
    if source == "plain":
        return functools.partial(plain.decode, quantities=dict(options.quantities))
    return DECODERS[source]


def message_decoder(
    source: str, zones: Callable[[str], Any], options: SourceOptions | None = None,
    *, clock: Callable[[], float] = time.time,
) -> tuple[Callable[..., list[Reading]], tuple[str, ...]]:
    """``(decode(topic, payload, *, expected=None, now_ms=None), subscription filters)`` for ``source``."""
    if source not in DEFAULT_TOPICS:
        raise ValueError(f"source {source!r} cannot be read from a broker as a device format")
    options = options or SourceOptions()
    if source == "plain" and not options.quantities:
        raise ConfigError("source_options.quantities: a plain-value source needs to know what each topic "
                          'measures, e.g. quantities = { power = "power_w", energy = "energy_kwh" }')
    patterns = options.topics or tuple(TopicPattern(p) for p in DEFAULT_TOPICS[source])
    decode = _format_decoder(source, options)

    def route(topic: str, payload: bytes, *, expected: str | None = None, now_ms: int | None = None) -> list[Reading]:
        match = next((m for p in patterns if (m := p.match(topic)) is not None), None)
        if match is None:
            shown = ", ".join(p.pattern for p in patterns)
            raise RejectedReading(f"topic {topic!r} matches none of the {source} topic patterns ({shown})",
                                  "unroutable")
        device, quantity = match
        if expected is not None and device != expected:
            raise RejectedReading(f"message is from device {device!r} but was expected from {expected!r}", "spoofed")
        when = int(clock() * 1000) if now_ms is None else now_ms
        if source == "plain":
            return decode(topic, payload, zones(device), device_id=device or None, now_ms=when, quantity=quantity)
        return decode(topic, payload, zones(device), device_id=device or None, now_ms=when)

    return route, tuple(dict.fromkeys(p.topic_filter for p in patterns))


def bridge_decoder(source: str, zones: Callable[[str], Any],
                   options: SourceOptions | None = None) -> tuple[Decoder, tuple[str, ...]]:
    """A decoder for the bridge and the subscription filters of ``source`` (tasmota, shelly, shelly-gen1)."""
    route, filters = message_decoder(source, zones, options)

    def decoder(topic: str, payload: bytes) -> list[Reading]:
        return route(topic, payload)

    return decoder, filters
