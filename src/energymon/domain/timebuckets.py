"""Local-time buckets: hours, days and months are cut in the device's own zone, never in UTC."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from energymon.errors import ConfigError

__all__ = ["LocalKeys", "local_keys", "zone", "local_day_bounds_ms", "label_hour"]

_MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class LocalKeys:
    """Which local hour, day and month a UTC minute belongs to.

    ``hour_ms`` is the UTC instant at which the local hour started, so the repeated hour of a DST
    fall-back day and the half-hour shifts of Lord Howe Island stay distinct buckets.
    """

    hour_ms: int
    day: str
    month: str


def zone(name: ZoneInfo | str) -> ZoneInfo:
    """A device's zone by IANA name (or as given); an unknown name is a configuration error."""
    return name if isinstance(name, ZoneInfo) else _zone_named(name)


@lru_cache(maxsize=256)
def _zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ConfigError(f"unknown time zone {name!r} (use an IANA name such as 'Europe/Berlin')") from None


def local_keys(minute_ms: int, tz: ZoneInfo) -> LocalKeys:
    local = datetime.fromtimestamp(minute_ms / 1000, tz)
    minutes_into_hour = local.minute
    return LocalKeys(
        hour_ms=minute_ms - minutes_into_hour * _MINUTE_MS,
        day=local.strftime("%Y-%m-%d"),
        month=local.strftime("%Y-%m"),
    )


def local_day_bounds_ms(day: str, tz: ZoneInfo) -> tuple[int, int]:
    """UTC milliseconds of local midnight starting ``day`` and of the next local midnight."""
    start = datetime.fromisoformat(day).replace(tzinfo=tz)
    end = (start.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def label_hour(hour_ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(hour_ms / 1000, tz).isoformat(timespec="minutes")
