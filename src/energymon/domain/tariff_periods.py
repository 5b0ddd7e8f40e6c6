"""The parts of a tariff: validity periods and their time-of-use windows (see :mod:`energymon.domain.tariffs`).

A :class:`TariffPeriod` holds the prices in force from a local date; a :class:`TouWindow` a price for
local-time ranges of the week. Both are plain values: :mod:`energymon.domain.tariff_config` builds and
validates them from a settings table, :class:`~energymon.domain.tariffs.Tariff` looks prices up in them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from energymon.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import date
    from decimal import Decimal

__all__ = [
    "DAY_NAMES",
    "MINUTES_PER_DAY",
    "MINUTES_PER_WEEK",
    "TariffNotDefined",
    "TariffPeriod",
    "TouWindow",
    "format_week_minute",
]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


class TariffNotDefined(ConfigError):
    """No tariff period covers the day asked about: the configuration has a gap there."""


def format_week_minute(week_minute: int) -> str:
    """``mon 22:00`` for minute 1320 of the week (0 = Monday 00:00)."""
    day, minute = divmod(week_minute % MINUTES_PER_WEEK, MINUTES_PER_DAY)
    return f"{DAY_NAMES[day]} {minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True, slots=True)
class TouWindow:
    """A local-time price window. ``end_minute <= start_minute`` means it runs past midnight."""

    days: frozenset[int]  # 0 = Monday .. 6 = Sunday: the day the window starts on
    start_minute: int  # 0 .. 1439
    end_minute: int  # 1 .. 1440
    price_per_kwh: Decimal
    name: str = ""

    @property
    def crosses_midnight(self) -> bool:
        return self.end_minute <= self.start_minute

    def covers(self, weekday: int, minute: int) -> bool:
        """Does the window apply at local ``minute`` of the day on ``weekday``?"""
        if not self.crosses_midnight:
            return weekday in self.days and self.start_minute <= minute < self.end_minute
        return (weekday in self.days and minute >= self.start_minute) or (
            (weekday - 1) % 7 in self.days and minute < self.end_minute
        )

    def week_minutes(self) -> Iterable[int]:
        """Every minute of the week (0 = Monday 00:00) the window covers."""
        length = (self.end_minute - self.start_minute) % MINUTES_PER_DAY or MINUTES_PER_DAY
        for day in sorted(self.days):
            first = day * MINUTES_PER_DAY + self.start_minute
            for m in range(first, first + length):
                yield m % MINUTES_PER_WEEK


@dataclass(frozen=True, slots=True)
class TariffPeriod:
    """Prices in force from local date ``start`` (inclusive) until ``end`` (exclusive; None: open)."""

    start: date
    end: date | None
    standing_charge_per_day: Decimal
    price_per_kwh: Decimal | None = None  # flat price, or the price outside every window
    windows: tuple[TouWindow, ...] = ()

    def contains(self, day: date) -> bool:
        return self.start <= day and (self.end is None or day < self.end)

    def price_at_local(self, weekday: int, minute: int) -> Decimal:
        for window in self.windows:
            if window.covers(weekday, minute):
                return window.price_per_kwh
        if self.price_per_kwh is None:  # from_dict proves full coverage; direct construction may not
            raise TariffNotDefined(
                f"period from {self.start}: no window covers {DAY_NAMES[weekday]} "
                f"{minute // 60:02d}:{minute % 60:02d} and there is no default price_per_kwh"
            )
        return self.price_per_kwh
