"""What every channel is: a name, optional quiet hours, and one ``send(body)`` that raises on failure."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

from energymon.errors import DeliveryError

if TYPE_CHECKING:
    from energymon.adapters.notify.config import QuietHours

__all__ = ["Channel", "DeliveryError", "summary", "title"]


class Channel(abc.ABC):
    kind: str = ""

    def __init__(self, name: str, quiet_hours: QuietHours | None = None) -> None:
        self.name = name
        self.quiet_hours = quiet_hours

    @abc.abstractmethod
    def send(self, body: dict[str, Any]) -> None:
        """Deliver one ``Notification.body()``; raise :class:`DeliveryError` (and only that) when it was not taken."""

    @abc.abstractmethod
    def target(self) -> str:
        """Where it delivers, for people (a URL, an address, a topic): never a secret."""


def title(body: dict[str, Any]) -> str:
    """One line: it becomes an e-mail subject and an HTTP header, where a line break would inject another."""
    text = f"energymon: {body.get('rule', '?')} {body.get('state', '?')} on {body.get('device_id', '?')}"
    return "".join(c for c in " ".join(text.split()) if c.isprintable())


def summary(body: dict[str, Any]) -> str:
    """One readable paragraph: the evaluator's message, or one built from the fields."""
    if body.get("message"):
        return str(body["message"])
    unit = body.get("unit") or ""
    parts = [f"{body.get('rule')} ({body.get('kind')}) is {body.get('state')} on {body.get('device_id')}"]
    if body.get("value") is not None:
        parts.append(f"value {_num(body['value'])} {unit}".rstrip())
    if body.get("threshold") is not None:
        parts.append(f"threshold {_num(body['threshold'])} {unit}".rstrip())
    if body.get("started_at"):
        parts.append(f"since {body['started_at']}")
    if body.get("duration_s") is not None:
        parts.append(f"lasted {_num(body['duration_s'])} s")
    return ", ".join(parts)


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)
