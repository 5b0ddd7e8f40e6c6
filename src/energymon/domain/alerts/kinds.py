"""Each rule kind as a pure function: (rule, state, what the store holds, now) → the next state + notifications.

Instant rules (power) walk the settled 1-minute means after the state's cursor, so a replayed or duplicated
batch finds nothing new; minutes older than the stale limit are never walked, so an agent's backlog replayed
after an outage does not fire "power above" for an hour ago. Scheduled rules look at the store as of ``now``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from energymon.domain.alerts.state import IncidentState, Outcome, Transitions

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from zoneinfo import ZoneInfo

    from energymon.domain.alerts.rules import AlertRule

__all__ = [
    "MINUTE_MS", "SETTLE_MS", "BudgetReading", "evaluate_base_load", "evaluate_budget", "evaluate_no_data",
    "evaluate_power", "evaluate_unusual_day", "percentile", "power_window", "robust_limit",
]

MINUTE_MS = 60_000
# A minute is judged once this long has passed after its end (arrival time): later readings of it are still
# arriving within the batching window, and judging it early would make the result depend on batch order.
SETTLE_MS = 30_000


def _local(ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%d %H:%M %Z")


def _stale_ms(rule: AlertRule) -> int:
    """Minutes ending longer ago than this (before the settle delay) are history, never fired on."""
    return 2 * rule.for_ms + MINUTE_MS


def power_window(rule: AlertRule, state: IncidentState, now_ms: int) -> tuple[int, int]:
    """The minutes [first, end) an evaluation at ``now_ms`` walks (first == end: nothing to do)."""
    end = (now_ms - SETTLE_MS) // MINUTE_MS * MINUTE_MS
    floor = (now_ms - SETTLE_MS - _stale_ms(rule)) // MINUTE_MS * MINUTE_MS
    return max(state.cursor_ms, floor), max(end, state.cursor_ms)


def evaluate_power(rule: AlertRule, state: IncidentState, minutes: Mapping[int, float], now_ms: int,
                   tz: ZoneInfo) -> Outcome:
    """``minutes``: minute start → 1-minute mean power (W) for the minutes that hold readings."""
    assert rule.threshold_w is not None
    first, end = power_window(rule, state, now_ms)
    t = Transitions(rule, state)
    if first > state.cursor_ms and state.cursor_ms:
        # Data between the cursor and the stale limit was never judged: a run in progress is broken.
        t.update(pending_since_ms=None, clear_since_ms=None, status="ok" if state.status == "pending" else state.status)
    above = rule.kind == "power_above"
    for minute in range(first, end, MINUTE_MS):
        value = minutes.get(minute)
        _power_minute(t, rule, minute, value, above, tz)
        t.update(cursor_ms=minute + MINUTE_MS)
        t.settle(minute + MINUTE_MS)
    return t.outcome(now_ms)


def _power_minute(t: Transitions, rule: AlertRule, minute: int, value: float | None, above: bool,
                  tz: ZoneInfo) -> None:
    s = t.state
    threshold, clear_level = rule.threshold_w, rule.clear_level
    assert threshold is not None
    minute_end = minute + MINUTE_MS
    word = "above" if above else "below"
    if s.status != "firing":
        breach = value is not None and (value > threshold if above else value < threshold)
        if not breach:
            if s.status == "pending":
                t.update(status="ok", pending_since_ms=None)
            return
        since = s.pending_since_ms if s.pending_since_ms is not None else minute
        if minute_end - since >= rule.for_ms:
            t.fire(minute_end, since, value, threshold,
                   f"{rule.name}: {s.device_id}'s 1-minute mean power is {value:.0f} W, {word} {threshold:g} W "
                   f"since {_local(since, tz)} ({rule.for_s:g} s or more)")
        else:
            t.update(status="pending", pending_since_ms=since, value=value, threshold=threshold)
        return
    cleared = value is not None and (value < clear_level if above else value > clear_level)
    if not cleared:
        t.update(clear_since_ms=None)
        return
    since = s.clear_since_ms if s.clear_since_ms is not None else minute
    if minute_end - since >= rule.for_ms:
        started = s.started_at_ms or since
        t.resolve(minute_end, since, value,
                  f"{rule.name}: {s.device_id}'s power is back {'below' if above else 'above'} {clear_level:g} W "
                  f"since {_local(since, tz)}; it lasted {_duration(since - started)}")
    else:
        t.update(clear_since_ms=since)


def evaluate_no_data(rule: AlertRule, state: IncidentState, last_ts_ms: int | None, now_ms: int,
                     since_start: Sequence[int], tz: ZoneInfo) -> Outcome:
    """``last_ts_ms``: the device's newest reading; ``since_start``: reading times after a firing incident's start
    (only looked at on resolve, to tell a backfilled gap from lost data)."""
    t = Transitions(rule, state)
    if last_ts_ms is None:
        return t.outcome(now_ms)  # never seen: "no data yet", nothing to miss
    silent_ms = now_ms - last_ts_ms
    if state.status != "firing":
        if silent_ms >= rule.for_ms:
            t.fire(now_ms, last_ts_ms, silent_ms / 1000, rule.for_s,
                   f"{rule.name}: no reading from {state.device_id} since {_local(last_ts_ms, tz)} "
                   f"({_duration(silent_ms)})")
        t.settle(now_ms)
        return t.outcome(now_ms)
    if silent_ms < rule.for_ms:
        started = state.started_at_ms
        assert started is not None
        gap_ms, resumed = largest_gap(started, since_start)
        backfilled = gap_ms < rule.for_ms
        ended = now_ms if backfilled else resumed
        detail = ("the gap was backfilled (the agent sent its buffered readings)" if backfilled else
                  f"{_duration(gap_ms)} of readings are missing")
        t.resolve(now_ms, ended, gap_ms / 1000,
                  f"{rule.name}: readings from {state.device_id} resumed; {detail}", period="backfilled"
                  if backfilled else "missing")
    t.settle(now_ms)
    return t.outcome(now_ms)


def largest_gap(start_ms: int, times: Sequence[int]) -> tuple[int, int]:
    """The longest silence from ``start_ms`` through ``times`` (sorted) and the reading that ended it."""
    best, ended, previous = 0, start_ms, start_ms
    for ts in times:
        if ts - previous > best:
            best, ended = ts - previous, ts
        previous = ts
    return best, ended


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear-interpolated percentile of non-empty ``values``."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


_MIN_HISTORY_NIGHTS = 7


def evaluate_base_load(rule: AlertRule, state: IncidentState, night: str, night_start_ms: int,
                       base_w: float | None, history_w: Sequence[float], now_ms: int, tz: ZoneInfo) -> Outcome:
    """Once per ``night`` (its local date): ``base_w`` is tonight's percentile, ``history_w`` the nights before."""
    t = Transitions(rule, state)
    if state.period == night:
        return t.outcome(now_ms)
    t.update(period=night)
    if base_w is None:
        return t.outcome(now_ms)  # too little data tonight: no verdict
    limits = []
    if rule.threshold_w is not None:
        limits.append(rule.threshold_w)
    if rule.percent_of_median is not None and len(history_w) >= _MIN_HISTORY_NIGHTS:
        limits.append(statistics.median(history_w) * rule.percent_of_median / 100)
    limit = min(limits) if limits else None
    if limit is not None and base_w > limit:
        if state.status != "firing":
            t.fire(now_ms, night_start_ms, base_w, round(limit, 3),
                   f"{rule.name}: {state.device_id}'s night base load ({rule.night_start}–{rule.night_end}) was "
                   f"{base_w:.0f} W on {night}, above {limit:.0f} W")
        else:
            t.update(value=round(base_w, 3))
    elif state.status == "firing" and limit is not None:
        t.resolve(now_ms, night_start_ms, base_w,
                  f"{rule.name}: {state.device_id}'s night base load is back to {base_w:.0f} W on {night}")
    t.settle(now_ms)
    return t.outcome(now_ms)


@dataclass(frozen=True)
class BudgetReading:
    """One local period (day or month) so far: its key, bounds and the amount used (kWh or cost)."""

    period: str
    start_ms: int
    end_ms: int
    used: float


def evaluate_budget(rule: AlertRule, state: IncidentState, reading: BudgetReading, now_ms: int,
                    tz: ZoneInfo) -> Outcome:
    """Warning: ``warn_at`` of the budget used and the period's projection past it; limit: the budget used."""
    budget = rule.budget_kwh if rule.budget_kwh is not None else rule.budget_cost
    assert budget is not None
    t = Transitions(rule, state)
    _roll_over(t, reading.period, reading.start_ms, now_ms, tz)
    elapsed = max(1, now_ms - reading.start_ms)
    used = round(reading.used, 6)
    projected = used * (reading.end_ms - reading.start_ms) / elapsed
    level = "limit" if used >= budget else "warn" if used >= rule.warn_at * budget and projected >= budget else ""
    unit = "kWh" if rule.budget_kwh is not None else ""
    what = f"{'today' if rule.period == 'day' else 'this month'} ({reading.period})"
    if level and _rank(level) > _rank(t.state.level if t.state.status == "firing" else ""):
        if level == "limit":
            message = f"{rule.name}: {state.device_id} used {used:g} {unit} {what}, the budget of {budget:g} {unit}"
        else:
            message = (f"{rule.name}: {state.device_id} used {used:g} {unit} {what}, "
                       f"{rule.warn_at:.0%} of the budget of {budget:g} {unit}; projected {projected:.2f} {unit}")
        if t.state.status == "firing":
            t.escalate(now_ms, used, budget, message, level=level)
        else:
            t.fire(now_ms, now_ms, used, budget, message, level=level, period=reading.period)
    t.settle(now_ms)
    return t.outcome(now_ms)


def _rank(level: str) -> int:
    return {"": 0, "warn": 1, "limit": 2}[level]


def _roll_over(t: Transitions, period: str, start_ms: int, now_ms: int, tz: ZoneInfo) -> None:
    s = t.state
    if s.status == "firing" and s.period and s.period != period:
        t.resolve(now_ms, start_ms, s.value, f"{t.rule.name}: a new period began for {s.device_id} "
                                             f"({period}, {_local(start_ms, tz)})", level="")


def robust_limit(history: Sequence[float], k: float) -> tuple[float, float, float]:
    """(median, MAD, median + k × MAD) of ``history``."""
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history)
    return median, mad, median + k * mad


_MIN_HISTORY_WEEKS = 3


def evaluate_unusual_day(rule: AlertRule, state: IncidentState, day: str, day_start_ms: int, today_kwh: float,
                         history_kwh: Sequence[float], now_ms: int, tz: ZoneInfo) -> Outcome:
    """``history_kwh``: the same weekday of past weeks, up to the same local time of day."""
    t = Transitions(rule, state)
    _roll_over(t, day, day_start_ms, now_ms, tz)
    if t.state.status != "firing" and len(history_kwh) >= _MIN_HISTORY_WEEKS:
        median, mad, limit = robust_limit(history_kwh, rule.k)
        today = round(today_kwh, 6)
        if today > limit and today - median >= rule.min_kwh:
            t.fire(now_ms, now_ms, today, round(limit, 6),
                   f"{rule.name}: {state.device_id} used {today:.2f} kWh today by {_local(now_ms, tz)}, above "
                   f"{limit:.2f} kWh (median {median:.2f} + {rule.k:g} × MAD {mad:.2f} of the same weekday over "
                   f"{len(history_kwh)} weeks)", period=day)
    t.settle(now_ms)
    return t.outcome(now_ms)


def _duration(ms: int) -> str:
    seconds = max(0, ms) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if secs else f"{minutes} min"
