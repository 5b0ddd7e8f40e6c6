"""Query parameters: parse times and zones, check ranges, and name the parameter when one is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import Query

from energymon.application.when import BadTime, parse_when
from energymon.domain.timebuckets import zone

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = ["DEFAULT_SPAN", "MAX_SPAN", "BadParameter", "From", "TimeRange", "To", "Tz", "parse_range", "parse_zone"]

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

# The query parameters every range-taking route shares (module level: FastAPI resolves them at run time).
From = Annotated[str | None, Query(alias="from", description="Start: epoch ms or ISO-8601 (device zone "
                                   "if no offset) [default: 'to' minus a usual span]")]
To = Annotated[str | None, Query(description="End, exclusive [default: now]")]
Tz = Annotated[str | None, Query(description="IANA zone for labels and cuts [default: the device's]")]


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
        return parse_when(value, tz)
    except BadTime:
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
