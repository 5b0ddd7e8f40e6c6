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
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from energymon.domain import timebuckets
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

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES: dict[str, frozenset[int]] = {
    **{name: frozenset({i}) for i, name in enumerate(DAY_NAMES)},
    **{
        full: frozenset({i})
        for i, full in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
    },
    "weekdays": frozenset(range(5)),
    "weekend": frozenset({5, 6}),
    "all": frozenset(range(7)),
}
_MINUTES_PER_DAY = 1440
_MINUTES_PER_WEEK = 7 * _MINUTES_PER_DAY
_MS_PER_MINUTE = 60_000
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
_WH_PER_KWH = Decimal(1000)


class TariffNotDefined(ConfigError):
    """No tariff period covers the day asked about: the configuration has a gap there."""


def _fmt_minute(week_minute: int) -> str:
    day, minute = divmod(week_minute % _MINUTES_PER_WEEK, _MINUTES_PER_DAY)
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
        length = (self.end_minute - self.start_minute) % _MINUTES_PER_DAY or _MINUTES_PER_DAY
        for day in sorted(self.days):
            first = day * _MINUTES_PER_DAY + self.start_minute
            for m in range(first, first + length):
                yield m % _MINUTES_PER_WEEK


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
        if not _CURRENCY.match(self.currency):
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
        if not isinstance(data, Mapping):
            raise ConfigError(f"tariff: expected a table, got {type(data).__name__}")
        _no_unknown_keys(data, {"currency", "name", "periods"}, "tariff")
        currency = data.get("currency")
        if not isinstance(currency, str) or not _CURRENCY.match(currency):
            raise ConfigError(f"currency: {currency!r} is not an ISO 4217 code (three capitals, e.g. EUR)")
        name = data.get("name", "")
        if not isinstance(name, str):
            raise ConfigError(f"name: expected a string, got {name!r}")
        raw_periods = data.get("periods")
        if not isinstance(raw_periods, list) or not raw_periods:
            raise ConfigError("periods: expected a non-empty list of tariff periods")
        parsed = [_parse_period(p, f"periods[{i}]") for i, p in enumerate(raw_periods)]
        return cls(currency=currency, periods=_resolve_periods(parsed), name=name)


# -- config parsing helpers ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _RawPeriod:
    key: str
    period: TariffPeriod  # ``end`` as written (None: until the next period)


def _no_unknown_keys(data: Mapping[str, object], allowed: set[str], where: str) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def _money(value: object, key: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ConfigError(f"{key}: expected a price (number or decimal string), got {value!r}")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ConfigError(f"{key}: {value!r} is not a number") from None
    if not amount.is_finite():
        raise ConfigError(f"{key}: {value!r} is not a finite number")
    if amount < 0:
        raise ConfigError(f"{key}: negative price {amount} is not allowed")
    return amount


def _date(value: object, key: str) -> date:
    if isinstance(value, datetime):
        raise ConfigError(f"{key}: expected a date (YYYY-MM-DD); periods start at local midnight")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"{key}: {value!r} is not a date (YYYY-MM-DD)")


def _minute(value: object, key: str, *, is_end: bool) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected HH:MM or an hour, got {value!r}")
    if isinstance(value, int):
        hour, minute = value, 0
    elif isinstance(value, str) and (match := _HHMM.match(value)):
        hour, minute = int(match[1]), int(match[2])
    else:
        raise ConfigError(f"{key}: expected HH:MM or an hour, got {value!r}")
    top = 24 if is_end else 23
    if not 0 <= hour <= top or not 0 <= minute <= 59 or (hour == 24 and minute):
        limit = "00:00-24:00" if is_end else "00:00-23:59"
        raise ConfigError(f"{key}: {value!r} is out of range ({limit})")
    return hour * 60 + minute


def _days(value: object, key: str) -> frozenset[int]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names:
        raise ConfigError(f"{key}: expected a day name or a non-empty list of day names")
    days: set[int] = set()
    for name in names:
        found = _DAY_ALIASES.get(name.lower()) if isinstance(name, str) else None
        if found is None:
            raise ConfigError(
                f"{key}: unknown day name {name!r} (use {', '.join(DAY_NAMES)}, weekdays, weekend or all)"
            )
        days |= found
    return frozenset(days)


def _parse_window(raw: object, key: str) -> TouWindow:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{key}: expected a table with days, start, end, price_per_kwh")
    _no_unknown_keys(raw, {"days", "start", "end", "price_per_kwh", "name"}, key)
    for required in ("days", "start", "end", "price_per_kwh"):
        if required not in raw:
            raise ConfigError(f"{key}.{required}: missing")
    start = _minute(raw["start"], f"{key}.start", is_end=False)
    end = _minute(raw["end"], f"{key}.end", is_end=True)
    if end == start:
        raise ConfigError(f"{key}.end: equals start, an empty window (use 00:00-24:00 for a whole day)")
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise ConfigError(f"{key}.name: expected a string, got {name!r}")
    return TouWindow(
        days=_days(raw["days"], f"{key}.days"),
        start_minute=start,
        end_minute=end,
        price_per_kwh=_money(raw["price_per_kwh"], f"{key}.price_per_kwh"),
        name=name,
    )


def _check_windows(windows: tuple[TouWindow, ...], has_default: bool, key: str) -> None:
    owner: list[int | None] = [None] * _MINUTES_PER_WEEK
    for i, window in enumerate(windows):
        for m in window.week_minutes():
            other = owner[m]
            if other is not None:
                raise ConfigError(
                    f"{key}.windows[{i}]: overlaps {key}.windows[{other}] at {_fmt_minute(m)} "
                    "(every instant must have exactly one price)"
                )
            owner[m] = i
    if not has_default:
        gap = next((m for m, o in enumerate(owner) if o is None), None)
        if gap is not None:
            raise ConfigError(
                f"{key}.windows: no window covers {_fmt_minute(gap)} and {key}.price_per_kwh "
                "(the price outside windows) is not set"
            )


def _parse_period(raw: object, key: str) -> _RawPeriod:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{key}: expected a table")
    _no_unknown_keys(raw, {"from", "to", "price_per_kwh", "standing_charge_per_day", "windows"}, key)
    if "from" not in raw:
        raise ConfigError(f"{key}.from: missing (the local date the prices start applying)")
    start = _date(raw["from"], f"{key}.from")
    end = None if raw.get("to") is None else _date(raw["to"], f"{key}.to")
    if end is not None and end <= start:
        raise ConfigError(f"{key}.to: {end} is not after {key}.from {start}")
    price = None if raw.get("price_per_kwh") is None else _money(raw["price_per_kwh"], f"{key}.price_per_kwh")
    standing = _money(raw.get("standing_charge_per_day", 0), f"{key}.standing_charge_per_day")
    raw_windows = raw.get("windows", [])
    if not isinstance(raw_windows, list):
        raise ConfigError(f"{key}.windows: expected a list of windows")
    windows = tuple(_parse_window(w, f"{key}.windows[{j}]") for j, w in enumerate(raw_windows))
    if price is None and not windows:
        raise ConfigError(f"{key}.price_per_kwh: missing (a period needs a flat price or windows)")
    _check_windows(windows, price is not None, key)
    return _RawPeriod(key, TariffPeriod(start, end, standing, price, windows))


def _resolve_periods(parsed: list[_RawPeriod]) -> tuple[TariffPeriod, ...]:
    ordered = sorted(parsed, key=lambda r: r.period.start)
    out: list[TariffPeriod] = []
    for i, raw in enumerate(ordered):
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        period = raw.period
        if nxt is not None:
            if nxt.period.start == period.start:
                raise ConfigError(f"{nxt.key}.from: {period.start} overlaps {raw.key}, which starts the same day")
            if period.end is not None and period.end > nxt.period.start:
                raise ConfigError(f"{raw.key}.to: {period.end} overlaps {nxt.key}, which starts {nxt.period.start}")
        end = period.end if period.end is not None else (nxt.period.start if nxt else None)
        out.append(
            TariffPeriod(period.start, end, period.standing_charge_per_day, period.price_per_kwh, period.windows)
        )
    return tuple(out)
