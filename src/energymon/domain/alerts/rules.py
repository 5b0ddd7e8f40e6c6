"""Alert rules as plain frozen dataclasses, parsed from their settings tables with every problem named.

``parse_rules`` names the key and the reason (``alerts.rules[0].threshold_w: must be a number of watts``);
the same parser serves the TOML on the local runtime and the JSON settings document on AWS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from energymon.errors import ConfigError

__all__ = [
    "ALL_DEVICES", "INSTANT_KINDS", "KINDS", "SCHEDULED_KINDS", "AlertRule", "RuleError", "parse_rule",
    "parse_rules",
]

ALL_DEVICES = "*"
INSTANT_KINDS = frozenset({"power_above", "power_below"})  # evaluated by the processor after each batch
SCHEDULED_KINDS = frozenset({"no_data", "base_load_above", "energy_budget", "unusual_day"})  # by the clock
KINDS = INSTANT_KINDS | SCHEDULED_KINDS
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_POWER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(W|kW)\s*$")
# Keys without a unit that people write: refused with the key that carries the unit.
_UNITLESS = {"threshold": "threshold_w (watts)", "clear": "clear_w (watts)", "for": "for_s (seconds)",
             "duration": "for_s (seconds)", "budget": "budget_kwh (kWh) or budget_cost (the tariff's currency)"}


class RuleError(ConfigError):
    """A rule that cannot be used: ``key`` is its full path (``alerts.rules[0].threshold_w``)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class AlertRule:
    name: str
    kind: str
    device: str = ALL_DEVICES  # a device id, or "*" for every device
    channels: tuple[str, ...] = ()
    critical: bool = False  # bypasses quiet hours
    threshold_w: float | None = None  # power_above/power_below (the level), base_load_above (fixed level)
    clear_w: float | None = None  # hysteresis: clears only past this (default: the threshold)
    for_s: float = 60.0  # how long the condition must hold (no_data: the silence)
    # base_load_above
    percent_of_median: float | None = None  # above this % of its own 28-day median
    night_start: str = "01:00"
    night_end: str = "05:00"
    percentile: float = 10.0
    median_days: int = 28
    # energy_budget
    period: str = "day"  # "day" | "month"
    budget_kwh: float | None = None
    budget_cost: float | None = None
    warn_at: float = 0.8
    # unusual_day
    weeks: int = 4
    k: float = 3.0
    min_kwh: float = 1.0

    def applies_to(self, device_id: str) -> bool:
        return self.device in (ALL_DEVICES, device_id)

    @property
    def instant(self) -> bool:
        return self.kind in INSTANT_KINDS

    @property
    def clear_level(self) -> float:
        assert self.threshold_w is not None
        return self.threshold_w if self.clear_w is None else self.clear_w

    @property
    def for_ms(self) -> int:
        return int(self.for_s * 1000)

    @property
    def unit(self) -> str:
        if self.kind == "no_data":
            return "s"
        if self.kind == "energy_budget" and self.budget_cost is not None:
            return "cost"
        return "kWh" if self.kind in ("energy_budget", "unusual_day") else "W"


_COMMON = {"name", "kind", "device", "channels", "critical", "for_s"}
_KEYS: dict[str, set[str]] = {
    "power_above": _COMMON | {"threshold_w", "clear_w"},
    "power_below": _COMMON | {"threshold_w", "clear_w"},
    "no_data": _COMMON,
    "base_load_above": _COMMON | {"threshold_w", "percent_of_median", "night_start", "night_end", "percentile",
                                  "median_days"},
    "energy_budget": _COMMON | {"period", "budget_kwh", "budget_cost", "warn_at"},
    "unusual_day": _COMMON | {"weeks", "k", "min_kwh"},
}


def parse_rules(
    tables: Sequence[Mapping[str, object]], channels: Iterable[str] | None = None, prefix: str = "alerts.rules"
) -> tuple[AlertRule, ...]:
    """Every rule of ``tables``; the first problem raises :class:`RuleError`. ``channels``: the names defined."""
    if not isinstance(tables, Sequence) or isinstance(tables, str | bytes):
        raise RuleError(prefix, "must be a list of tables ([[alerts.rules]])")
    known = None if channels is None else set(channels)
    rules = []
    seen: dict[str, int] = {}
    for i, table in enumerate(tables):
        rule = parse_rule(table, known, f"{prefix}[{i}]")
        if rule.name in seen:
            raise RuleError(f"{prefix}[{i}].name", f"{rule.name!r} is already the name of {prefix}[{seen[rule.name]}]")
        seen[rule.name] = i
        rules.append(rule)
    return tuple(rules)


def parse_rule(table: Mapping[str, object], channels: set[str] | None = None, at: str = "rule") -> AlertRule:
    if not isinstance(table, Mapping):
        raise RuleError(at, "must be a table")
    kind = table.get("kind")
    if kind is None:
        raise RuleError(f"{at}.kind", f"is required (one of {', '.join(sorted(KINDS))})")
    if not isinstance(kind, str) or kind not in KINDS:
        raise RuleError(f"{at}.kind", f"unknown kind {kind!r} (one of {', '.join(sorted(KINDS))})")
    for key in table:
        if key in _UNITLESS:
            raise RuleError(f"{at}.{key}", f"a value needs its unit: write {_UNITLESS[key]}")
        if key not in _KEYS[kind]:
            raise RuleError(f"{at}.{key}", f"unknown key for a {kind} rule (allowed: {', '.join(sorted(_KEYS[kind]))})")
    values: dict[str, object] = {"kind": kind}
    values["name"] = _name(table, at)
    values["device"] = _device(table, at)
    values["channels"] = _channels(table, at, channels)
    values["critical"] = _bool(table, "critical", at, default=False)
    values["for_s"] = _number(table, "for_s", at, lo=1, hi=30 * 86_400, default=60.0 if kind != "no_data" else None)
    if kind in INSTANT_KINDS:
        values |= _power_levels(table, kind, at)
    elif kind == "base_load_above":
        values |= _base_load(table, at)
    elif kind == "energy_budget":
        values |= _budget(table, at)
    elif kind == "unusual_day":
        values["weeks"] = int(_number(table, "weeks", at, lo=2, hi=52, default=4, integer=True))
        values["k"] = _number(table, "k", at, lo=0, hi=100, default=3.0)
        values["min_kwh"] = _number(table, "min_kwh", at, lo=0, hi=1e6, default=1.0)
    return AlertRule(**values)  # type: ignore[arg-type]


def _name(table: Mapping[str, object], at: str) -> str:
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise RuleError(f"{at}.name", "is required: 1–64 letters, digits, '-', '_' or '.', starting with a letter "
                                      f"or digit (got {name!r}); it appears in MQTT topics and keys")
    return name


def _device(table: Mapping[str, object], at: str) -> str:
    device = table.get("device", ALL_DEVICES)
    if not isinstance(device, str) or not device or any(c in device for c in "/+#") or (
            "*" in device and device != ALL_DEVICES):
        raise RuleError(f"{at}.device", f"must be a device id or \"*\" for every device (got {device!r})")
    return device


def _channels(table: Mapping[str, object], at: str, known: set[str] | None) -> tuple[str, ...]:
    names = table.get("channels", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise RuleError(f"{at}.channels", "must be a list of channel names")
    for j, name in enumerate(names):
        if known is not None and name not in known:
            defined = ", ".join(sorted(known)) or "none are defined"
            raise RuleError(f"{at}.channels[{j}]", f"unknown channel {name!r} (defined in [[alerts.channels]]: "
                                                   f"{defined})")
    return tuple(dict.fromkeys(names))


def _bool(table: Mapping[str, object], key: str, at: str, *, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise RuleError(f"{at}.{key}", f"must be true or false (got {value!r})")
    return value


def _number(table: Mapping[str, object], key: str, at: str, *, lo: float, hi: float, default: float | None,
            integer: bool = False) -> float:
    value = table.get(key, default)
    if value is None:
        raise RuleError(f"{at}.{key}", "is required")
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not float(value).is_integer()):
        raise RuleError(f"{at}.{key}", f"must be {'a whole number' if integer else 'a number'} (got {value!r})")
    if not lo <= value <= hi:
        raise RuleError(f"{at}.{key}", f"must be between {lo:g} and {hi:g} (got {value!r})")
    return float(value)


def _watts(table: Mapping[str, object], key: str, at: str) -> float | None:
    """Watts as a number, or a string with its unit ("2 kW", "1800 W"); a bare string has no unit and is refused."""
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        match = _POWER.match(value)
        if not match:
            raise RuleError(f"{at}.{key}", f"{value!r} is not a power: a number of watts, or \"2 kW\" / \"1800 W\"")
        value = float(match.group(1)) * (1000 if match.group(2) == "kW" else 1)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleError(f"{at}.{key}", f"must be a number of watts (got {value!r})")
    if not 0 <= value <= 1_000_000:
        raise RuleError(f"{at}.{key}", f"must be between 0 and 1000000 W (got {value!r})")
    return float(value)


def _power_levels(table: Mapping[str, object], kind: str, at: str) -> dict[str, object]:
    threshold = _watts(table, "threshold_w", at)
    if threshold is None:
        raise RuleError(f"{at}.threshold_w", f"is required for a {kind} rule (watts)")
    clear = _watts(table, "clear_w", at)
    if clear is not None and kind == "power_above" and clear > threshold:
        raise RuleError(f"{at}.clear_w", f"must not be above threshold_w ({threshold:g} W) for power_above: "
                                         "the alert clears once power falls below it")
    if clear is not None and kind == "power_below" and clear < threshold:
        raise RuleError(f"{at}.clear_w", f"must not be below threshold_w ({threshold:g} W) for power_below: "
                                         "the alert clears once power rises above it")
    return {"threshold_w": threshold, "clear_w": clear}


def _hhmm(table: Mapping[str, object], key: str, at: str, default: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not _HHMM.match(value):
        raise RuleError(f"{at}.{key}", f"must be a local time HH:MM (got {value!r})")
    return value


def _base_load(table: Mapping[str, object], at: str) -> dict[str, object]:
    threshold = _watts(table, "threshold_w", at)
    percent = table.get("percent_of_median")
    if percent is not None:
        percent = _number(table, "percent_of_median", at, lo=1, hi=10_000, default=None)
    if threshold is None and percent is None:
        raise RuleError(at, "a base_load_above rule needs threshold_w (watts) or percent_of_median (%), or both")
    start = _hhmm(table, "night_start", at, "01:00")
    end = _hhmm(table, "night_end", at, "05:00")
    if start >= end:
        raise RuleError(f"{at}.night_end", f"must be after night_start ({start}) on the same night")
    return {"threshold_w": threshold, "percent_of_median": percent, "night_start": start, "night_end": end,
            "percentile": _number(table, "percentile", at, lo=0, hi=100, default=10.0),
            "median_days": int(_number(table, "median_days", at, lo=3, hi=365, default=28, integer=True))}


def _budget(table: Mapping[str, object], at: str) -> dict[str, object]:
    period = table.get("period", "day")
    if period not in ("day", "month"):
        raise RuleError(f"{at}.period", f"must be \"day\" or \"month\" (got {period!r})")
    kwh = table.get("budget_kwh")
    cost = table.get("budget_cost")
    if (kwh is None) == (cost is None):
        raise RuleError(at, "an energy_budget rule needs exactly one of budget_kwh (kWh) or budget_cost "
                            "(in the device's tariff currency)")
    key = "budget_kwh" if kwh is not None else "budget_cost"
    budget = _number(table, key, at, lo=0.001, hi=1e9, default=None)
    warn = _number(table, "warn_at", at, lo=0.01, hi=1.0, default=0.8)
    return {"period": period, key: budget, "warn_at": warn}
