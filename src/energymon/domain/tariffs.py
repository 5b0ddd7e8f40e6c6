"""Electricity tariffs: validity periods, flat and time-of-use prices, a standing charge per day.

A :class:`Tariff` is a list of :class:`TariffPeriod` s, each valid from a local date (at local
midnight) until the next one starts (or an explicit ``to`` date, exclusive). A price change
therefore applies from its start only and never to usage before it: cost is always computed
from the period in force at the instant of use.

Within a period the price is flat (``price_per_kwh``) or time-of-use: :class:`TouWindow` s
naming days (``mon`` .. ``sun``, ``weekdays``, ``weekend``, ``all``) and a local ``start``-``end``
range. A window whose end is not after its start runs past midnight: ``days`` name the day the
window *starts* on (``fri 22:00-06:00`` covers Friday night into Saturday 06:00). With a flat
``price_per_kwh`` as well, it is the price outside every window; without one, the windows
must cover the whole week. Windows never overlap. Either way every instant has exactly one
price, which :meth:`Tariff.from_dict` proves before returning.

Days, hours and the standing charge follow the device's local time: a 23- or 25-hour DST day
is one day and pays one standing charge. Money is :class:`~decimal.Decimal` throughout.

The parts (:class:`TouWindow`, :class:`TariffPeriod`) live in :mod:`energymon.domain.tariff_periods`,
the validation of the settings table in :mod:`energymon.domain.tariff_config`; this module is the
public face and keeps their names importable from here.

Config shape (TOML-like)::

    currency = "EUR"
    [[periods]]
    from = 2026-01-01
    standing_charge_per_day = "0.45"
    price_per_kwh = "0.30"                 # flat, or the price outside the windows
    [[periods.windows]]
    days = "weekdays"
    start = "22:00"
    end = "06:00"
    price_per_kwh = "0.20"
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from energymon.domain import timebuckets
from energymon.domain.tariff_config import CURRENCY, parse_tariff
from energymon.domain.tariff_periods import DAY_NAMES, TariffNotDefined, TariffPeriod, TouWindow
from energymon.errors import ConfigError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = [
    "DAY_NAMES",
    "Tariff",
    "TariffNotDefined",
    "TariffPeriod",
    "TouWindow",
]

_MS_PER_MINUTE = 60_000
_WH_PER_KWH = Decimal(1000)
_zone = timebuckets.zone


def _to_local(instant: datetime | int, zone: ZoneInfo) -> datetime:
    if isinstance(instant, datetime):
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ValueError(f"instant {instant!r} is naive: give an aware datetime or epoch milliseconds")
        return instant.astimezone(zone)
    if isinstance(instant, bool) or not isinstance(instant, int):
        raise TypeError(f"instant must be an aware datetime or epoch milliseconds, got {instant!r}")
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=instant)).astimezone(zone)


def _wh(value: object, minute_ms: int) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"energy for minute {minute_ms} must be a number of Wh, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"energy for minute {minute_ms} is {value!r}")
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"energy for minute {minute_ms} is {value!r} Wh: must be finite and not negative")
    return amount


@dataclass(frozen=True, slots=True)
class Tariff:
    """An electricity tariff: currency and non-overlapping validity periods, sorted by start."""

    currency: str
    periods: tuple[TariffPeriod, ...]
    name: str = ""

    def __post_init__(self) -> None:
        if not CURRENCY.match(self.currency):
            raise ConfigError(f"currency: {self.currency!r} is not an ISO 4217 code (three capitals, e.g. EUR)")
        for before, after in zip(self.periods, self.periods[1:], strict=False):
            if before.end is None or before.end > after.start or before.start >= after.start:
                raise ConfigError(
                    f"periods: the period from {before.start} overlaps the one from {after.start} "
                    "(periods must be sorted and must not overlap)"
                )

    # -- lookups ----------------------------------------------------------------------------
    def period_on(self, local_date: date) -> TariffPeriod:
        """The period in force on ``local_date`` or :class:`TariffNotDefined`."""
        for period in self.periods:
            if period.contains(local_date):
                return period
        first = f"; the first period starts {self.periods[0].start}" if self.periods else ""
        raise TariffNotDefined(f"periods: no tariff period covers {local_date.isoformat()}{first}")

    def price_at(self, instant: datetime | int, tz: ZoneInfo | str) -> Decimal:
        """Price per kWh at ``instant`` (aware datetime or epoch ms) for a device in ``tz``."""
        local = _to_local(instant, _zone(tz))
        period = self.period_on(local.date())
        return period.price_at_local(local.weekday(), local.hour * 60 + local.minute)

    def cost_of(
        self,
        intervals: Mapping[int, float | int | Decimal] | Iterable[tuple[int, float | int | Decimal]],
        tz: ZoneInfo | str,
    ) -> Decimal:
        """Energy cost of Wh per UTC minute (``{minute_start_ms: wh}`` or ``[(ms, wh), ...]``).

        Each minute is priced at its start: windows are minute-aligned, so a minute never
        straddles a price change. Starts must be whole minutes (catches seconds-for-ms
        mix-ups). Standing charges are separate (:meth:`standing_charge_for_day`).
        Unrounded: round once, at display or billing time.
        """
        zone = _zone(tz)
        items = intervals.items() if isinstance(intervals, Mapping) else intervals
        total = Decimal(0)
        for minute_ms, wh in items:
            if isinstance(minute_ms, bool) or not isinstance(minute_ms, int) or minute_ms % _MS_PER_MINUTE:
                raise ValueError(f"interval start {minute_ms!r} is not a whole UTC minute in epoch ms")
            amount = _wh(wh, minute_ms)
            if amount:
                total += self.price_at(minute_ms, zone) * amount / _WH_PER_KWH
        return total

    def standing_charge_for_day(self, local_date: date) -> Decimal:
        """The standing charge for one local day (one per calendar day, DST days included)."""
        if isinstance(local_date, datetime):
            raise TypeError("standing_charge_for_day takes a local date, not a datetime")
        return self.period_on(local_date).standing_charge_per_day

    def standing_charges(self, first: date, last: date) -> Decimal:
        """Sum of standing charges for local days ``first`` .. ``last`` inclusive."""
        total = Decimal(0)
        day = first
        while day <= last:
            total += self.standing_charge_for_day(day)
            day += timedelta(days=1)
        return total

    # -- config ------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Tariff:
        """Build and validate a tariff from config; :class:`ConfigError` names the bad key."""
        currency, name, periods = parse_tariff(data)
        return cls(currency=currency, periods=periods, name=name)
