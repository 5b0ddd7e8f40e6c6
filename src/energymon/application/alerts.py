"""The alert evaluator: reads the store, runs the pure rule kinds, writes state + history + outbox together.

``after_batch`` (instant rules) is what the processor calls for each device a batch touched, with the batch's
arrival time as "now"; ``evaluate_scheduled`` (time-driven rules) is what a clock calls — the local runtime's
alerts thread, and on AWS a scheduled handler. Neither knows which runtime it is in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from energymon.application.periods import local_today
from energymon.domain.alerts.kinds import (
    MINUTE_MS,
    SETTLE_MS,
    BudgetReading,
    evaluate_base_load,
    evaluate_budget,
    evaluate_no_data,
    evaluate_power,
    evaluate_unusual_day,
    percentile,
    power_window,
)
from energymon.domain.alerts.rules import ALL_DEVICES, AlertRule
from energymon.domain.alerts.state import IncidentState, Outcome
from energymon.domain.costing import period_costs
from energymon.domain.tariffs import TariffNotDefined
from energymon.domain.timebuckets import zone
from energymon.ports import OutboxItem

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from zoneinfo import ZoneInfo

    from energymon.domain.alerts.notification import Notification
    from energymon.domain.tariffs import Tariff
    from energymon.ports import AlertState, Metrics, StoreReader

__all__ = ["AlertEvaluator", "RuleStatus"]

log = logging.getLogger(__name__)

_CONFLICT_RETRIES = 3
_MIN_NIGHT_COVERAGE = 0.5  # a night with fewer observed minutes than this share gets no verdict


@dataclass(frozen=True)
class RuleStatus:
    """One row of ``alerts list``: a rule on one device (state None: never evaluated; ``no_data_yet``: unseen)."""

    rule: AlertRule
    device_id: str
    state: IncidentState | None
    no_data_yet: bool


class AlertEvaluator:
    def __init__(
        self,
        rules: Sequence[AlertRule],
        state: AlertState,
        store: StoreReader,
        zones: Callable[[str], str],
        tariffs: Callable[[str], Tariff | None] = lambda _device: None,
        metrics: Metrics | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self.state = state
        self.store = store
        self.zones = zones
        self.tariffs = tariffs
        self.metrics = metrics
        self._instant = tuple(r for r in self.rules if r.instant)

    # ------------------------------------------------------------------------------------------ instant
    def after_batch(self, device_id: str, now_ms: int) -> list[Notification]:
        """Instant rules of ``device_id`` as of ``now_ms`` (the batch's arrival): what they sent."""
        sent: list[Notification] = []
        tz_name = self.zones(device_id)
        for rule in self._instant:
            if rule.applies_to(device_id):
                sent += self._commit(rule, device_id, partial(self._power, rule, device_id, now_ms, tz_name))
        return sent

    def _power(self, rule: AlertRule, device_id: str, now_ms: int, tz_name: str, state: IncidentState) -> Outcome:
        first, end = power_window(rule, state, now_ms)
        minutes: dict[int, float] = {}
        if end > first:  # most batches settle no new minute: no read
            for p in self.store.periods(device_id, "minute", first, end, tz_name):
                if p.samples > 0 and p.gap_minutes == 0:  # a minute inside a gap holds a share, not a reading
                    minutes[p.start_ms] = p.import_kwh * 60_000
        return evaluate_power(rule, state, minutes, now_ms, zone(tz_name))

    # ---------------------------------------------------------------------------------------- scheduled
    def evaluate_scheduled(self, now_s: float) -> list[Notification]:
        """Every time-driven rule on every device it applies to, as of ``now_s``: what they sent."""
        now_ms = int(now_s * 1000)
        summaries = {s.device_id: s for s in self.store.devices()}
        sent: list[Notification] = []
        for rule in self.rules:
            if rule.instant:
                continue
            for device_id in self._devices(rule, summaries):
                last = summaries[device_id].last_ts_ms
                tz = zone(self.zones(device_id))
                sent += self._commit(rule, device_id, partial(self._scheduled, rule, device_id, last, now_ms, tz))
        return sent

    def _devices(self, rule: AlertRule, summaries: Mapping[str, object]) -> list[str]:
        if rule.device == ALL_DEVICES:
            return sorted(summaries)
        return [rule.device] if rule.device in summaries else []

    def _scheduled(self, rule: AlertRule, device_id: str, last_ts_ms: int | None, now_ms: int, tz: ZoneInfo,
                   state: IncidentState) -> Outcome:
        if rule.kind == "no_data":
            times: list[int] = []
            if state.status == "firing" and state.started_at_ms is not None and last_ts_ms is not None \
                    and now_ms - last_ts_ms < rule.for_ms:
                times = [r.ts_ms for r in self.store.readings_around(device_id, state.started_at_ms + 1, now_ms)
                         if state.started_at_ms < r.ts_ms <= now_ms]
            return evaluate_no_data(rule, state, last_ts_ms, now_ms, times, tz)
        if rule.kind == "base_load_above":
            return self._base_load(rule, state, device_id, now_ms, tz)
        if rule.kind == "energy_budget":
            return evaluate_budget(rule, state, self._budget_reading(rule, device_id, now_ms, tz), now_ms, tz)
        return self._unusual_day(rule, state, device_id, now_ms, tz)

    def _base_load(self, rule: AlertRule, state: IncidentState, device_id: str, now_ms: int, tz: ZoneInfo
                   ) -> Outcome:
        today = datetime.fromtimestamp(now_ms / 1000, tz).date()
        start, end = _night(today, rule, tz)
        if now_ms < end + SETTLE_MS or state.period == today.isoformat():
            return Outcome(state)
        base = self._night_base(device_id, start, end, rule, tz)
        history = [b for d in range(1, rule.median_days + 1)
                   if (b := self._night_base(device_id, *_night(today - timedelta(days=d), rule, tz), rule, tz))
                   is not None]
        return evaluate_base_load(rule, state, today.isoformat(), start, base, history, now_ms, tz)

    def _night_base(self, device_id: str, start: int, end: int, rule: AlertRule, tz: ZoneInfo) -> float | None:
        powers = [p.import_kwh * 60_000 for p in self.store.periods(device_id, "minute", start, end, str(tz))
                  if p.samples > 0 and p.gap_minutes == 0]
        if len(powers) < _MIN_NIGHT_COVERAGE * (end - start) / MINUTE_MS:
            return None
        return round(percentile(powers, rule.percentile), 3)

    def _budget_reading(self, rule: AlertRule, device_id: str, now_ms: int, tz: ZoneInfo) -> BudgetReading:
        key, start, end = _period(rule.period, now_ms, tz)
        upto = now_ms // MINUTE_MS * MINUTE_MS
        if rule.budget_kwh is not None:
            used = self.store.energy_sums(device_id, [(start, upto)])[0] / 1e6
        else:
            used = self._cost(device_id, start, end, tz)
        return BudgetReading(key, start, end, used)

    def _cost(self, device_id: str, start: int, end: int, tz: ZoneInfo) -> float:
        """The period's cost so far with the device's tariff, standing charges included (as ``query`` shows it)."""
        tariff = self.tariffs(device_id)
        if tariff is None:
            return 0.0
        try:
            [cost] = period_costs(tariff, [(start, end)], tz,
                                  lambda ranges: self.store.energy_sums(device_id, ranges), standing_charges=True)
        except TariffNotDefined:
            return 0.0
        return float(cost)

    def _unusual_day(self, rule: AlertRule, state: IncidentState, device_id: str, now_ms: int, tz: ZoneInfo
                     ) -> Outcome:
        now = datetime.fromtimestamp(now_ms / 1000, tz)
        day, start, _ = local_today(now_ms / 1000, tz)
        upto = now_ms // MINUTE_MS * MINUTE_MS
        ranges = [(start, upto)]
        for week in range(1, rule.weeks + 1):
            then = (now - timedelta(weeks=week)).replace(tzinfo=None)  # the same wall-clock time, DST-safe below
            midnight = then.replace(hour=0, minute=0, second=0, microsecond=0)
            ranges.append((int(midnight.replace(tzinfo=tz).timestamp() * 1000),
                           int(then.replace(tzinfo=tz).timestamp() * 1000) // MINUTE_MS * MINUTE_MS))
        today_mwh, *past = self.store.energy_sums(device_id, ranges)
        history = [mwh / 1e6 for mwh in past if mwh > 0]  # a week without data is not a week of zero use
        return evaluate_unusual_day(rule, state, day, start, today_mwh / 1e6, history, now_ms, tz)

    # ------------------------------------------------------------------------------------------- commit
    def _commit(self, rule: AlertRule, device_id: str,
                evaluate: Callable[[IncidentState], Outcome]) -> list[Notification]:
        """Evaluate on the stored state and write the outcome conditionally; on a conflict, again on the new one."""
        for _ in range(_CONFLICT_RETRIES):
            current = self.state.get(rule.name, device_id) or IncidentState(rule.name, device_id)
            outcome = evaluate(current)
            if not outcome.changed:
                return []
            items = [OutboxItem(n.key, channel, n.body()) for n in outcome.notifications for channel in rule.channels]
            if self.state.put(outcome.state, current.version, outcome.notifications, items):
                for n in outcome.notifications:
                    log.info("alert %s: %s", n.state, n.message)
                    if self.metrics is not None:
                        self.metrics.count("alert_notifications", 1, rule=rule.name, state=n.state)
                return list(outcome.notifications)
        log.warning("alert %s on %s: the state kept changing under us; evaluated again next time", rule.name,
                    device_id)
        return []

    # ------------------------------------------------------------------------------------------- status
    def statuses(self) -> list[RuleStatus]:
        """Every rule on every device it applies to (a named device never seen: "no data yet")."""
        seen = sorted(s.device_id for s in self.store.devices())
        stored = {(s.rule, s.device_id): s for s in self.state.states()}
        out = []
        for rule in self.rules:
            devices = seen if rule.device == ALL_DEVICES else [rule.device]
            for device in devices:
                out.append(RuleStatus(rule, device, stored.get((rule.name, device)), device not in seen))
        return out


def _night(day: date, rule: AlertRule, tz: ZoneInfo) -> tuple[int, int]:
    """The local [night_start, night_end) of ``day`` in ms."""
    iso = day.isoformat()
    start = datetime.fromisoformat(f"{iso}T{rule.night_start}").replace(tzinfo=tz)
    end = datetime.fromisoformat(f"{iso}T{rule.night_end}").replace(tzinfo=tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def _period(period: str, now_ms: int, tz: ZoneInfo) -> tuple[str, int, int]:
    """(key, start ms, end ms) of the local day or month containing ``now_ms``."""
    if period == "day":
        return local_today(now_ms / 1000, tz)
    now = datetime.fromtimestamp(now_ms / 1000, tz)
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    following = (first + timedelta(days=32)).replace(day=1)
    return (now.strftime("%Y-%m"), int(first.replace(tzinfo=tz).timestamp() * 1000),
            int(following.replace(tzinfo=tz).timestamp() * 1000))


def incident_view(status: RuleStatus, tz_name: str) -> dict[str, object]:
    """One rule on one device as ``alerts list`` and ``/api/alerts`` show it (times in the device's zone)."""
    s = status.state
    tz = zone(tz_name)

    def local(ms: int | None) -> str | None:
        return None if ms is None else datetime.fromtimestamp(ms / 1000, tz).isoformat(timespec="seconds")

    state = "no data yet" if status.no_data_yet else (s.status if s else "ok")
    return {"rule": status.rule.name, "kind": status.rule.kind, "device_id": status.device_id, "state": state,
            "flapping": bool(s and s.flapping), "started_at": local(s.started_at_ms if s else None),
            "started_at_ms": s.started_at_ms if s else None, "ended_at": local(s.ended_at_ms if s else None),
            "value": s.value if s else None, "threshold": s.threshold if s else None, "unit": status.rule.unit,
            "critical": status.rule.critical, "channels": list(status.rule.channels)}
