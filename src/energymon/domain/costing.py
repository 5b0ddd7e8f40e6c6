"""Cost of consumption per period: energy in each constant-price stretch times its price, plus standing charges.

Prices change only at a tariff's window boundaries (local wall-clock minutes), at local midnight when a new
validity period starts, and when the zone's offset changes. ``price_segments`` cuts a UTC range at exactly
those instants, so a query needs one energy sum per stretch instead of a price look-up per minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from zoneinfo import ZoneInfo

    from energymon.domain.tariffs import Tariff

__all__ = ["PriceSegment", "price_segments", "period_costs", "local_days"]

_MINUTE_MS = 60_000
_MWH_PER_KWH = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class PriceSegment:
    start_ms: int
    end_ms: int
    price_per_kwh: Decimal


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def local_days(start_ms: int, end_ms: int, tz: ZoneInfo) -> list[date]:
    """Every local date touched by [start, end)."""
    first = datetime.fromtimestamp(start_ms / 1000, tz).date()
    last = datetime.fromtimestamp((end_ms - 1) / 1000, tz).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _offset_changes(day_start_ms: int, day_end_ms: int, tz: ZoneInfo) -> list[int]:
    """UTC minute at which the zone's offset changes within a day, if it does (found by bisection)."""
    def offset(ms: int) -> timedelta | None:
        return datetime.fromtimestamp(ms / 1000, tz).utcoffset()

    lo, hi = day_start_ms, day_end_ms - _MINUTE_MS
    if offset(lo) == offset(hi):
        return []
    while hi - lo > _MINUTE_MS:
        mid = lo + (hi - lo) // 2 // _MINUTE_MS * _MINUTE_MS
        if offset(mid) == offset(lo):
            lo = mid
        else:
            hi = mid
    return [hi]


def price_segments(tariff: Tariff, start_ms: int, end_ms: int, tz: ZoneInfo) -> list[PriceSegment]:
    """Constant-price stretches covering [start, end), merged where neighbours share a price."""
    cuts = {start_ms, end_ms}
    for day in local_days(start_ms, end_ms, tz):
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        next_midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), tz)
        cuts.update(_offset_changes(_ms(midnight), _ms(next_midnight), tz))
        period = tariff.period_on(day)
        minutes = {0}
        for window in period.windows:
            minutes.update((window.start_minute, window.end_minute % 1440))
        for minute in minutes:
            wall = midnight + timedelta(minutes=minute)  # wall-clock arithmetic: same local date
            for fold in (0, 1):  # a repeated wall time (DST fall-back) is a boundary both times
                cuts.add(_ms(wall.replace(fold=fold)))
    ordered = sorted(c for c in cuts if start_ms <= c <= end_ms)
    segments: list[PriceSegment] = []
    for a, b in zip(ordered, ordered[1:], strict=False):
        price = tariff.price_at(a, tz)
        if segments and segments[-1].price_per_kwh == price and segments[-1].end_ms == a:
            segments[-1] = PriceSegment(segments[-1].start_ms, b, price)
        else:
            segments.append(PriceSegment(a, b, price))
    return segments


def period_costs(
    tariff: Tariff,
    periods: Sequence[tuple[int, int]],
    tz: ZoneInfo,
    energy_mwh: Callable[[list[tuple[int, int]]], list[int]],
    *,
    standing_charges: bool,
) -> list[Decimal]:
    """Cost of each [start, end) period. ``energy_mwh`` sums stored import energy over many UTC ranges at once.

    Standing charges are added per local day when the periods are whole days or months (``standing_charges``).
    """
    pieces: list[tuple[int, int]] = []
    prices: list[tuple[int, Decimal]] = []  # (period index, price) per piece
    for index, (start, end) in enumerate(periods):
        for segment in price_segments(tariff, start, end, tz):
            pieces.append((segment.start_ms, segment.end_ms))
            prices.append((index, segment.price_per_kwh))
    costs = [Decimal(0)] * len(periods)
    for (index, price), mwh in zip(prices, energy_mwh(pieces), strict=True):
        if mwh:
            costs[index] += price * Decimal(mwh) / _MWH_PER_KWH
    if standing_charges:
        for index, (start, end) in enumerate(periods):
            for day in local_days(start, end, tz):
                costs[index] += tariff.standing_charge_for_day(day)
    return costs
