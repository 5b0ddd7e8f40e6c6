"""Query parameters: parse times and zones, check ranges, and name the parameter when one is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from energymon.domain.timebuckets import local_keys, zone

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = [
    "MAX_SPAN", "BadParameter", "TimeRange", "expected_periods", "midnight_ms", "next_month", "parse_range",
    "parse_zone",
]

_MINUTE_MS = 60_000
_DAY_MS = 86_400_000
_LATEST_MS = 32_503_680_000_000  # 3000-01-01

# The widest range each resolution answers in one request (what a chart can draw, not a storage limit).
MAX_SPAN: dict[str, timedelta] = {
    "raw": timedelta(hours=6),
    "minute": timedelta(days=7),
    "hour": timedelta(days=93),
    "day": timedelta(days=3_700),
    "month": timedelta(days=36_600),
}
DEFAULT_SPAN: dict[str, timedelta] = {
    "raw": timedelta(minutes=15),
    "minute": timedelta(hours=24),
    "hour": timedelta(days=1),
    "day": timedelta(days=31),
    "month": timedelta(days=366),
}


class BadParameter(Exception):  # noqa: N818 - mirrors click/typer's name for the same idea
    """A request parameter that cannot be answered: becomes a 4xx JSON error naming it."""

    def __init__(self, parameter: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class TimeRange:
    start_ms: int
    end_ms: int
    tz_name: str
    tz: ZoneInfo


def parse_zone(value: str | None, default: str, parameter: str = "tz") -> tuple[str, ZoneInfo]:
    name = value if value else default
    try:
        return name, zone(name)
    except Exception:  # noqa: BLE001 - ZoneInfo raises many kinds of error for odd names
        raise BadParameter(
            parameter, f"unknown time zone {name!r} (use an IANA name such as 'Europe/Berlin')"
        ) from None


def _parse_when(value: str, tz: ZoneInfo, parameter: str) -> datetime:
    try:
        if value.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(value) / 1000, tz)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
    except (ValueError, OverflowError, OSError):
        raise BadParameter(
            parameter,
            f"{value!r} is not a time: use epoch milliseconds, YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][±HH:MM] "
            "(without an offset, the device's zone is used)",
        ) from None


def parse_range(
    from_: str | None, to: str | None, resolution: str, tz_name: str, tz: ZoneInfo, now_ms: int
) -> TimeRange:
    """[from, to) in UTC ms. Defaults: ``to`` = now, ``from`` = ``to`` minus the resolution's usual span."""
    try:
        end = _parse_when(to, tz, "to") if to else datetime.fromtimestamp(now_ms / 1000, tz)
        start = _parse_when(from_, tz, "from") if from_ else end - DEFAULT_SPAN[resolution]
        start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    except (OverflowError, ValueError, OSError):
        raise BadParameter("from" if from_ else "to", "time out of range") from None
    for name, ms in (("from", start_ms), ("to", end_ms)):
        if not 0 <= ms <= _LATEST_MS:
            raise BadParameter(name, "time out of range (1970 to 2999)")
    if end_ms <= start_ms:
        raise BadParameter("to", f"'to' ({end.isoformat()}) must be after 'from' ({start.isoformat()})")
    span = MAX_SPAN[resolution]
    if end_ms - start_ms > span.total_seconds() * 1000:
        raise BadParameter(
            "from",
            f"range of {(end_ms - start_ms) / _DAY_MS:.2f} days is too large for resolution {resolution!r} "
            f"(at most {span.total_seconds() / 86400:g} days); use a coarser resolution or a shorter range",
        )
    return TimeRange(start_ms, end_ms, tz_name, tz)


def expected_periods(resolution: str, start_ms: int, end_ms: int, tz: ZoneInfo) -> list[tuple[str | int, int]]:
    """Every period overlapping [start, end) as (store key, local start in UTC ms), in time order.

    Keys match the store's: minute/hour start ms for minute and hour, ``YYYY-MM-DD`` and ``YYYY-MM`` for
    day and month, all cut in ``tz`` (so 23- and 25-hour days and half-hour zones come out right).
    """
    out: list[tuple[str | int, int]] = []
    if resolution == "minute":
        first = start_ms - start_ms % _MINUTE_MS
        out = [(m, m) for m in range(first, end_ms, _MINUTE_MS)]
    elif resolution == "hour":
        seen: set[int] = set()
        step = 15 * _MINUTE_MS  # every zone offset is a multiple of 15 minutes
        t = start_ms - start_ms % step
        while t < end_ms:
            hour = local_keys(t, tz).hour_ms
            if hour not in seen:
                seen.add(hour)
                out.append((hour, hour))
            t += step
    else:
        day = datetime.fromtimestamp(start_ms / 1000, tz).date()
        last = datetime.fromtimestamp((end_ms - 1) / 1000, tz).date()
        if resolution == "month":
            day = day.replace(day=1)
        while day <= last:
            key = day.isoformat() if resolution == "day" else day.isoformat()[:7]
            out.append((key, midnight_ms(day, tz)))
            day = day + timedelta(days=1) if resolution == "day" else next_month(day)
    return out


def midnight_ms(day: date, tz: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)


def next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)
