"""A user's 'when' (``--from``/``--to`` on the command line, ``from``/``to`` in the API): the one parser."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from energymon.errors import EnergymonError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = ["BadTime", "parse_when"]


class BadTime(EnergymonError, ValueError):
    """A 'when' that is not a time; each entry point words its own answer (naming its option or parameter)."""

    def __init__(self, value: str) -> None:
        super().__init__(f"{value!r} is not a time")
        self.value = value


def parse_when(value: str, tz: ZoneInfo) -> datetime:
    """Epoch milliseconds, or ISO-8601 (a date, or a time with or without an offset or ``Z``).

    Without an offset the time is read in ``tz`` (the device's zone).
    """
    try:
        if value.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(value) / 1000, tz)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except (ValueError, OverflowError, OSError):
        raise BadTime(value) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
