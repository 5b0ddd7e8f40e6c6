"""The main screen's figures, per device and for the whole site: cost per hour now, today against yesterday and
last week at the same time, the always-on load, this month's highest 15-minute demand, and CSV rows of a period.

Everything is read through :class:`~energymon.application.queries.QueryService` (so the local and the AWS read
side compute the same numbers). Definitions the page and the README quote:

- **cost per hour now**: the latest power times the price per kWh in force now (time-of-use aware).
- **same time yesterday / last week**: from local midnight of that day to the same local wall-clock time,
  costed with that day's prices and one standing charge (as today's cost is).
- **always-on load**: the 10th percentile (nearest rank) of per-minute average power between 00:00 and 05:00
  local time over the last ``nights`` complete nights (minutes without a gap only; at least 60 of them). Per year:
  that power for 8,760 hours at the week's time-weighted mean price.
- **peak demand**: the highest average power over a quarter-hour of the local month so far (quarter-hours are
  aligned the same in every zone: every offset is a multiple of 15 minutes). The site's is coincident: the
  quarter-hour where the sum of all devices is highest, not the sum of each device's own peak.
- **site**: every device the store knows, added up; the site's zone is its devices' (the first device's when
  they differ): the month of its peak demand and the hours of its history are cut there, while "today", the
  nights and the days of its history are each device's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from energymon.application.periods import midnight_ms, next_month, period_end_ms
from energymon.domain.costing import period_costs, price_segments
from energymon.domain.tariffs import TariffNotDefined
from energymon.domain.timebuckets import zone
from energymon.errors import EnergymonError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from energymon.application.queries import QueryService
    from energymon.ports import DeviceSummary

__all__ = [
    "ALWAYS_ON_PERCENTILE", "CSV_COLUMNS", "CSV_MAX_ROWS", "NIGHT_END", "NIGHT_START", "AlwaysOn", "CsvTooLarge",
    "DayToTime", "DeviceOverview", "LiveCost", "Overview", "PeakDemand", "SiteEnergy", "SiteEnergyRow",
    "SiteOverview", "change_pct", "nearest_rank",
]

NIGHT_START = time(0, 0)
NIGHT_END = time(5, 0)
ALWAYS_ON_PERCENTILE = 10
ALWAYS_ON_MIN_MINUTES = 60
HOURS_PER_YEAR = 8_760
QUARTER_MS = 15 * 60_000
CSV_MAX_ROWS = 50_000
CSV_COLUMNS = ("device_id", "start_local", "end_local", "start_utc", "end_utc", "import_kwh", "export_kwh",
               "cost", "currency", "gap", "partial")
_MWH_PER_KWH = 1_000_000


class CsvTooLarge(EnergymonError):
    """A CSV request that would hold more rows than :data:`CSV_MAX_ROWS`."""

    def __init__(self, rows: int) -> None:
        super().__init__(f"the CSV would hold {rows} rows, more than the limit of {CSV_MAX_ROWS} rows: "
                         "ask for a shorter range or a longer period")
        self.rows = rows


@dataclass(frozen=True, slots=True)
class LiveCost:
    power_w: float | None
    price_per_kwh: float | None
    cost_per_hour: float | None
    price_until_ms: int | None  # the next price change within two days, if any
    currency: str | None


@dataclass(frozen=True, slots=True)
class DayToTime:
    """One local day from midnight to a wall-clock time: energy and cost (with that day's standing charge)."""

    day: str
    start_ms: int
    end_ms: int
    import_kwh: float
    cost: float | None


@dataclass(frozen=True, slots=True)
class AlwaysOn:
    power_w: float | None  # None: fewer than ALWAYS_ON_MIN_MINUTES night minutes with data
    minutes: int
    nights: int
    kwh_per_year: float | None
    cost_per_year: float | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class PeakDemand:
    month: str
    kw: float | None
    start_ms: int | None
    start: str | None  # local ISO-8601 with offset
    end: str | None


@dataclass(frozen=True, slots=True)
class DeviceOverview:
    device_id: str
    timezone: str
    status: str
    last_seen_ms: int | None
    currency: str | None
    live: LiveCost
    today: DayToTime
    yesterday: DayToTime
    last_week: DayToTime
    vs_yesterday_pct: float | None
    vs_last_week_pct: float | None
    always_on: AlwaysOn
    peak_demand: PeakDemand


@dataclass(frozen=True, slots=True)
class SiteOverview:
    timezone: str
    devices: list[DeviceOverview]
    currency: str | None  # None when devices are costed in different currencies (no site cost then)
    power_w: float | None
    cost_per_hour: float | None
    today_kwh: float
    today_cost: float | None
    yesterday_kwh: float
    yesterday_cost: float | None
    last_week_kwh: float
    last_week_cost: float | None
    vs_yesterday_pct: float | None
    vs_last_week_pct: float | None
    always_on_w: float | None
    always_on_cost_per_year: float | None
    peak_demand: PeakDemand


@dataclass(frozen=True, slots=True)
class SiteEnergyRow:
    start: str
    start_ms: int
    import_kwh: float | None  # None: no device has data for this period
    cost: float | None
    gap: bool  # some device has no data, or a gap, in this period
    partial: bool


@dataclass(frozen=True, slots=True)
class SiteEnergy:
    timezone: str
    period: str
    from_ms: int
    to_ms: int
    total_import_kwh: float
    gaps: int
    currency: str | None
    total_cost: float | None
    periods: list[SiteEnergyRow]


def change_pct(now: float | None, before: float | None) -> float | None:
    """Relative change in percent, or None when there is nothing to compare against."""
    if now is None or before is None or before <= 0:
        return None
    return round((now - before) / before * 100, 1)


def nearest_rank(values: list[float], percentile: int) -> float:
    """The nearest-rank percentile: the smallest value with at least ``percentile`` % of values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percentile / 100 * len(ordered)) - 1)]


def _local_iso(ms: int, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz).isoformat(timespec="seconds")


def _utc_iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wall_ms(day: date, at: time, tz: ZoneInfo) -> int:
    return int(datetime.combine(day, at, tz).timestamp() * 1000)


def _sum_or_none(values: list[float | None]) -> float | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _sum_present(values: list[float | None]) -> float | None:
    """A period without data has no cost of its own (as in ``energy_series``): add what is there."""
    present = [v for v in values if v is not None]
    return round(sum(present), 4) if present else None


class Overview:
    """The main screen's figures over a :class:`QueryService` (its store, zones, tariffs and clock)."""

    def __init__(self, service: QueryService) -> None:
        self.service = service

    def _now_ms(self) -> int:
        return int(self.service.clock() * 1000)

    # ------------------------------------------------------------------------------------------ live
    def live_cost(self, summary: DeviceSummary) -> LiveCost:
        tariff = self.service.tariff_of(summary.device_id)
        power = summary.last_power_w
        if tariff is None:
            return LiveCost(power, None, None, None, None)
        tz = zone(self.service.zones(summary.device_id))
        now = self._now_ms()
        try:
            price = tariff.price_at(now, tz)
        except TariffNotDefined:
            return LiveCost(power, None, None, None, tariff.currency)
        try:
            segments = price_segments(tariff, now, now + 2 * 86_400_000, tz)
            until = segments[0].end_ms if len(segments) > 1 else None
        except TariffNotDefined:  # the tariff ends within two days: the change is where it ends
            until = None
        cost = None if power is None else round(float(Decimal(repr(power)) / 1000 * price), 4)
        return LiveCost(power, float(price), cost, until, tariff.currency)

    # ----------------------------------------------------------------------------------- day to time
    def day_to_time(self, device_id: str, days_ago: int) -> DayToTime:
        """Local day ``days_ago`` days before today, from midnight to now's local wall-clock time."""
        tz = zone(self.service.zones(device_id))
        now = self._now_ms()
        local_now = datetime.fromtimestamp(now / 1000, tz)
        day = local_now.date() - timedelta(days=days_ago)
        start = midnight_ms(day, tz)
        end = now if days_ago == 0 else max(start, _wall_ms(day, local_now.time(), tz))
        store = self.service.store
        mwh = store.energy_sums(device_id, [(start, end)])[0] if end > start else 0
        cost: float | None = None
        tariff = self.service.tariff_of(device_id)
        if tariff is not None:
            try:
                cost = round(float(period_costs(tariff, [(start, max(end, start + 1))], tz,
                                                lambda ranges: store.energy_sums(device_id, ranges),
                                                standing_charges=True)[0]), 4)
            except TariffNotDefined:
                cost = None
        return DayToTime(day.isoformat(), start, end, round(mwh / _MWH_PER_KWH, 6), cost)

    # ------------------------------------------------------------------------------------- always on
    def night_minutes(self, device_id: str, nights: int, tz: ZoneInfo) -> dict[int, float]:
        """Per-minute average power (W) of the last ``nights`` complete night windows, minutes with no gap."""
        now = self._now_ms()
        day = datetime.fromtimestamp(now / 1000, tz).date()
        out: dict[int, float] = {}
        counted = 0
        while counted < nights:
            start, end = _wall_ms(day, NIGHT_START, tz), _wall_ms(day, NIGHT_END, tz)
            day -= timedelta(days=1)
            if end > now:
                continue  # tonight's window is not over yet
            counted += 1
            for p in self.service.store.periods(device_id, "minute", start, end, tz.key):
                if p.gap_minutes == 0:
                    out[p.start_ms] = p.import_kwh * 60_000
        return out

    def always_on(self, device_id: str, nights: int) -> AlwaysOn:
        tz = zone(self.service.zones(device_id))
        watts = list(self.night_minutes(device_id, nights, tz).values())
        currency = self.service.currency_of(device_id)
        if len(watts) < ALWAYS_ON_MIN_MINUTES:
            return AlwaysOn(None, len(watts), nights, None, None, currency)
        power = round(nearest_rank(watts, ALWAYS_ON_PERCENTILE), 1)
        kwh = power / 1000 * HOURS_PER_YEAR
        price = self.mean_price(device_id, tz)
        return AlwaysOn(power, len(watts), nights, round(kwh, 1),
                        None if price is None else round(kwh * price, 2), currency)

    def mean_price(self, device_id: str, tz: ZoneInfo) -> float | None:
        """Time-weighted mean price per kWh over the week starting today (a constant load pays this on average)."""
        tariff = self.service.tariff_of(device_id)
        if tariff is None:
            return None
        today = datetime.fromtimestamp(self._now_ms() / 1000, tz).date()
        start, end = midnight_ms(today, tz), midnight_ms(today + timedelta(days=7), tz)
        try:
            segments = price_segments(tariff, start, end, tz)
        except TariffNotDefined:
            return None
        weighted = sum(s.price_per_kwh * (s.end_ms - s.start_ms) for s in segments)
        return float(weighted / (end - start))

    # ------------------------------------------------------------------------------------ peak demand
    def quarter_hours(self, device_id: str, start_ms: int, end_ms: int) -> dict[int, float]:
        """kWh per quarter-hour (keyed by its UTC start) stored in [start, end)."""
        blocks: dict[int, float] = {}
        for p in self.service.store.periods(device_id, "minute", start_ms, end_ms, "UTC"):
            key = p.start_ms - p.start_ms % QUARTER_MS
            blocks[key] = blocks.get(key, 0.0) + p.import_kwh
        return blocks

    def _month(self, tz: ZoneInfo) -> tuple[str, int, int]:
        now = self._now_ms()
        first = datetime.fromtimestamp(now / 1000, tz).date().replace(day=1)
        return first.isoformat()[:7], midnight_ms(first, tz), min(now + 1, midnight_ms(next_month(first), tz))

    def peak_demand(self, device_ids: list[str], tz: ZoneInfo) -> PeakDemand:
        """The month's highest quarter-hour of the devices' summed energy (coincident), as average kW."""
        month, start, end = self._month(tz)
        total: dict[int, float] = {}
        for device_id in device_ids:
            for key, kwh in self.quarter_hours(device_id, start, end).items():
                total[key] = total.get(key, 0.0) + kwh
        if not total:
            return PeakDemand(month, None, None, None, None)
        key = max(sorted(total), key=lambda k: total[k])  # ties: the earliest
        return PeakDemand(month, round(total[key] * 4, 3), key, _local_iso(key, tz), _local_iso(key + QUARTER_MS, tz))

    # ------------------------------------------------------------------------------------- overviews
    def device(self, summary: DeviceSummary, nights: int) -> DeviceOverview:
        device_id = summary.device_id
        view = self.service.view(summary)
        today, yesterday, last_week = (self.day_to_time(device_id, d) for d in (0, 1, 7))
        return DeviceOverview(
            device_id, view.timezone, view.status, summary.last_ts_ms, self.service.currency_of(device_id),
            self.live_cost(summary), today, yesterday, last_week,
            change_pct(today.import_kwh, yesterday.import_kwh), change_pct(today.import_kwh, last_week.import_kwh),
            self.always_on(device_id, nights), self.peak_demand([device_id], zone(view.timezone)),
        )

    def site_zone(self) -> str:
        summaries = self.service.summaries()
        return self.service.zones(summaries[0].device_id) if summaries else "UTC"

    def site(self, nights: int) -> SiteOverview:
        devices = [self.device(s, nights) for s in self.service.summaries()]
        tz_name = self.site_zone()
        currencies = {d.currency for d in devices}
        currency = currencies.pop() if len(currencies) == 1 else None

        def money(values: list[float | None]) -> float | None:
            total = None if currency is None else _sum_or_none(values)
            return None if total is None else round(total, 4)

        online = [d for d in devices if d.status == "online"]
        today_kwh = round(sum(d.today.import_kwh for d in devices), 6)
        yesterday_kwh = round(sum(d.yesterday.import_kwh for d in devices), 6)
        last_week_kwh = round(sum(d.last_week.import_kwh for d in devices), 6)
        always_on = _sum_or_none([d.always_on.power_w for d in devices]) if devices else None
        return SiteOverview(
            tz_name, devices, currency,
            power_w=round(sum(d.live.power_w or 0 for d in online), 1) if online else None,
            cost_per_hour=money([d.live.cost_per_hour for d in online]) if online else None,
            today_kwh=today_kwh, today_cost=money([d.today.cost for d in devices]),
            yesterday_kwh=yesterday_kwh, yesterday_cost=money([d.yesterday.cost for d in devices]),
            last_week_kwh=last_week_kwh, last_week_cost=money([d.last_week.cost for d in devices]),
            vs_yesterday_pct=change_pct(today_kwh, yesterday_kwh), vs_last_week_pct=change_pct(today_kwh,
                                                                                               last_week_kwh),
            always_on_w=None if always_on is None else round(always_on, 1),
            always_on_cost_per_year=money([d.always_on.cost_per_year for d in devices]) if devices else None,
            peak_demand=self.peak_demand([d.device_id for d in devices], zone(tz_name)),
        )

    # ---------------------------------------------------------------------------------- site history
    def site_energy(self, period: str, start_ms: int, end_ms: int) -> SiteEnergy:
        """Every device's energy per period of [start, end), added up period by period (same label).

        Minutes and hours are cut in the site's zone for every device; days and months in each device's own
        (stored that way), so with devices in different zones a site's day adds up differently cut days.
        """
        rows: dict[str, SiteEnergyRow] = {}
        currencies: set[str | None] = set()
        site_zone = self.site_zone()
        for summary in self.service.summaries():
            tz_name = site_zone if period in ("minute", "hour") else self.service.zones(summary.device_id)
            report = self.service.energy_series(summary.device_id, period, start_ms, end_ms, tz_name)
            currencies.add(report.currency)
            for r in report.periods:
                before = rows.get(r.start)
                if before is None:
                    rows[r.start] = SiteEnergyRow(r.start, r.start_ms, r.import_kwh, r.cost, r.gap, r.partial)
                    continue
                rows[r.start] = SiteEnergyRow(
                    r.start, min(before.start_ms, r.start_ms),
                    None if before.import_kwh is None and r.import_kwh is None
                    else round((before.import_kwh or 0) + (r.import_kwh or 0), 6),
                    _sum_present([before.cost, r.cost]), before.gap or r.gap, before.partial or r.partial)
        ordered = sorted(rows.values(), key=lambda row: row.start_ms)
        currency = currencies.pop() if len(currencies) == 1 else None
        total_cost = _sum_present([r.cost for r in ordered]) if currency is not None else None
        return SiteEnergy(
            site_zone, period, start_ms, end_ms,
            round(sum(r.import_kwh or 0 for r in ordered), 6), sum(1 for r in ordered if r.gap), currency,
            None if total_cost is None else round(total_cost, 4),
            [r if currency is not None else SiteEnergyRow(r.start, r.start_ms, r.import_kwh, None, r.gap, r.partial)
             for r in ordered])

    # -------------------------------------------------------------------------------------------- csv
    def csv_rows(self, device_ids: list[str], period: str, start_ms: int, end_ms: int
                 ) -> list[tuple[str | float | int | None, ...]]:
        """One row per device and period of [start, end), in :data:`CSV_COLUMNS` order, local and UTC times.

        :class:`CsvTooLarge` before anything is read when the rows would pass :data:`CSV_MAX_ROWS`.
        """
        from energymon.application.periods import expected_periods

        expected = sum(len(expected_periods(period, start_ms, end_ms, zone(self.service.zones(d))))
                       for d in device_ids)
        if expected > CSV_MAX_ROWS:
            raise CsvTooLarge(expected)
        rows: list[tuple[str | float | int | None, ...]] = []
        for device_id in device_ids:
            tz_name = self.service.zones(device_id)
            tz = zone(tz_name)
            report = self.service.energy_series(device_id, period, start_ms, end_ms, tz_name)
            for r in report.periods:
                end = period_end_ms(period, r.start_ms, tz)
                rows.append((device_id, _local_iso(r.start_ms, tz), _local_iso(end, tz), _utc_iso(r.start_ms),
                             _utc_iso(end), r.import_kwh, r.export_kwh, r.cost, report.currency,
                             int(r.gap), int(r.partial)))
        return rows
