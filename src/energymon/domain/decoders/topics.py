"""Topic patterns: which MQTT topics a source reads, and the rule that names the device from the topic.

A pattern is an MQTT topic filter in which some levels are written ``{device}``:

* ``{device}`` matches one level and that level is (part of) the device id; when several levels are
  ``{device}``, the id is those levels joined with ``-`` in order (``shellies/{device}/{device}/events/rpc``
  on ``shellies/kitchen/plug/events/rpc`` -> ``kitchen-plug``);
* ``+`` matches one level, ``#`` (last) the rest; neither is part of the id;
* ``{quantity}`` (plain-value sources only) matches one level that names what the payload measures;
* every other level must match literally.

The subscription filter is the pattern with ``{device}`` read as ``+``. A pattern without ``{device}``
cannot name a device and is a configuration error.
"""

from __future__ import annotations

from dataclasses import dataclass

from energymon.errors import ConfigError

__all__ = ["DEVICE", "QUANTITY", "TopicPattern"]

DEVICE = "{device}"
QUANTITY = "{quantity}"


@dataclass(frozen=True, slots=True)
class TopicPattern:
    pattern: str

    def __post_init__(self) -> None:
        levels = self.pattern.split("/")
        if not isinstance(self.pattern, str) or not self.pattern or DEVICE not in levels:
            raise ConfigError(f"topic pattern {self.pattern!r}: expected an MQTT filter with a {DEVICE} level "
                              "(the level that names the device)")
        for i, level in enumerate(levels):
            if level == "#" and i != len(levels) - 1:
                raise ConfigError(f"topic pattern {self.pattern!r}: '#' may only be the last level")
            if level not in ("+", "#", DEVICE, QUANTITY) and ("+" in level or "#" in level or "{" in level):
                raise ConfigError(f"topic pattern {self.pattern!r}: level {level!r} mixes a wildcard with text")

    @property
    def topic_filter(self) -> str:
        return "/".join("+" if level in (DEVICE, QUANTITY) else level for level in self.pattern.split("/"))

    def device(self, topic: str) -> str | None:
        """The device id ``topic`` names under this pattern, or ``None`` if it does not match."""
        match = self.match(topic)
        return None if match is None else match[0]

    def match(self, topic: str) -> tuple[str, str | None] | None:
        """(device id, quantity level or None) of ``topic`` under this pattern, or ``None`` if no match."""
        if topic.startswith("$"):
            return None
        levels = topic.split("/")
        parts = self.pattern.split("/")
        ids = []
        quantity = None
        for i, part in enumerate(parts):
            if part == "#":
                break
            if i >= len(levels):
                return None
            if part == DEVICE:
                ids.append(levels[i])
            elif part == QUANTITY:
                quantity = levels[i]
            elif part != "+" and part != levels[i]:
                return None
        else:
            if len(levels) != len(parts):
                return None
        return "-".join(ids), quantity
