"""The periods of a query, cut in a zone: which ones a range covers, where each ends, how each is labelled.

The one definition of a period's end and of 'today' (a local day's bounds come from ``domain.timebuckets``);
the query service, and through it the CLI, the API and the status table, use nothing else.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from energymon.domain.timebuckets import label_hour, local_day_bounds_ms, local_keys

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = [
    "STEP_MS", "expected_periods", "local_today", "midnight_ms", "next_month", "period_end_ms", "period_label",
]

_MINUTE_MS = 60_000
STEP_MS = {"minute": _MINUTE_MS, "hour": 60 * _MINUTE_MS}  # fixed-length periods; days and months are local


def midnight_ms(day: date, tz: ZoneInfo) -> int:
    """UTC milliseconds of the local midnight starting ``day``."""
    return local_day_bounds_ms(day.isoformat(), tz)[0]


def next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def period_end_ms(resolution: str, start_ms: int, tz: ZoneInfo) -> int:
    """Where the period starting at ``start_ms`` ends: the next local midnight or first of the month for days and
    months (so 23- and 25-hour days come out right)."""
    if resolution in STEP_MS:
        return start_ms + STEP_MS[resolution]
    day = datetime.fromtimestamp(start_ms / 1000, tz).date()
    return midnight_ms(day + timedelta(days=1) if resolution == "day" else next_month(day), tz)


def local_today(now_s: float, tz: ZoneInfo) -> tuple[str, int, int]:
    """Today in ``tz`` at ``now_s``: (YYYY-MM-DD, start ms, end ms)."""
    day = datetime.fromtimestamp(now_s, tz).strftime("%Y-%m-%d")
    start, end = local_day_bounds_ms(day, tz)
    return day, start, end


def period_label(resolution: str, key: str | int, tz: ZoneInfo) -> str:
    """The label of a period with no stored row: its local start (minute/hour) or its key (day/month)."""
    return label_hour(int(key), tz) if resolution in STEP_MS else str(key)


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
