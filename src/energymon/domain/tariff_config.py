"""A tariff from its settings table: every key validated, every problem named (``periods[1].windows[0].start``).

:func:`parse_tariff` proves what :class:`~energymon.domain.tariffs.Tariff` relies on: periods sorted
and not overlapping, windows not overlapping, and every instant of the week priced exactly once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from energymon.domain.tariff_periods import (
    DAY_NAMES,
    MINUTES_PER_WEEK,
    TariffPeriod,
    TouWindow,
    format_week_minute,
)
from energymon.errors import ConfigError

__all__ = ["CURRENCY", "parse_tariff"]

CURRENCY = re.compile(r"^[A-Z]{3}$")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
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


def parse_tariff(data: Mapping[str, object]) -> tuple[str, str, tuple[TariffPeriod, ...]]:
    """(currency, name, periods) of a tariff table; :class:`ConfigError` names the bad key."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"tariff: expected a table, got {type(data).__name__}")
    _no_unknown_keys(data, {"currency", "name", "periods"}, "tariff")
    currency = data.get("currency")
    if not isinstance(currency, str) or not CURRENCY.match(currency):
        raise ConfigError(f"currency: {currency!r} is not an ISO 4217 code (three capitals, e.g. EUR)")
    name = data.get("name", "")
    if not isinstance(name, str):
        raise ConfigError(f"name: expected a string, got {name!r}")
    raw_periods = data.get("periods")
    if not isinstance(raw_periods, list) or not raw_periods:
        raise ConfigError("periods: expected a non-empty list of tariff periods")
    parsed = [_parse_period(p, f"periods[{i}]") for i, p in enumerate(raw_periods)]
    return currency, name, _resolve_periods(parsed)


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
    owner: list[int | None] = [None] * MINUTES_PER_WEEK
    for i, window in enumerate(windows):
        for m in window.week_minutes():
            other = owner[m]
            if other is not None:
                raise ConfigError(
                    f"{key}.windows[{i}]: overlaps {key}.windows[{other}] at {format_week_minute(m)} "
                    "(every instant must have exactly one price)"
                )
            owner[m] = i
    if not has_default:
        gap = next((m for m, o in enumerate(owner) if o is None), None)
        if gap is not None:
            raise ConfigError(
                f"{key}.windows: no window covers {format_week_minute(gap)} and {key}.price_per_kwh "
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
