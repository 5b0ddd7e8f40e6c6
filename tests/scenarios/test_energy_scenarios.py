"""Named energy scenarios with hand-computed kWh and cost, run through the real processor and query port.

Each scenario is a meter's readings (1 per minute unless said otherwise) fed as Kinesis-shaped batches into
``Processor.handle`` with the SQLite store, then read back per local day through ``QueryService``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import orjson
import pytest

from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.store import SqliteStore
from energymon.application.queries import QueryService
from energymon.domain.energy import EnergyParams
from energymon.domain.reading import Reading, encode_message
from energymon.domain.tariffs import Tariff
from energymon.ports import StreamRecord
from energymon.processing import Processor, ZoneResolver

if TYPE_CHECKING:
    from pathlib import Path

DEVICE = "meter-1"
MIN = 60_000
HOUR = 3_600_000


def at(zone_name: str, *args: int) -> int:
    return int(dt.datetime(*args, tzinfo=ZoneInfo(zone_name)).timestamp() * 1000)  # type: ignore[misc]


def constant_power(start_ms: int, end_ms: int, watts: float, energy_wh: float = 10_000.0,
                   step_ms: int = MIN) -> list[Reading]:
    """A meter drawing ``watts`` from start to end, read every ``step_ms`` with its cumulative counter."""
    readings = []
    for ts in range(start_ms, end_ms + 1, step_ms):
        readings.append(Reading(DEVICE, ts, watts, round(energy_wh, 6)))
        energy_wh += watts * step_ms / HOUR
    return readings


def counter(start_ms: int, values: list[float], step_ms: int = MIN) -> list[Reading]:
    return [Reading(DEVICE, start_ms + i * step_ms, None, v) for i, v in enumerate(values)]


@dataclass
class Scenario:
    name: str
    zone: str
    readings: list[Reading]
    expected_days: dict[str, float]  # local date -> kWh
    params: EnergyParams = field(default_factory=EnergyParams)
    tariff: dict[str, object] | None = None
    expected_cost: dict[str, str] | None = None  # local date -> cost incl. standing charge
    expected_gap_days: tuple[str, ...] = ()  # local dates flagged as holding a gap
    tolerance_kwh: float = 0.001


FLAT = {"currency": "EUR", "periods": [
    {"from": dt.date(2026, 1, 1), "standing_charge_per_day": "0.45", "price_per_kwh": "0.30"},
    {"from": dt.date(2026, 6, 15), "standing_charge_per_day": "0.50", "price_per_kwh": "0.40"},
]}
NIGHT = {"currency": "EUR", "periods": [{
    "from": dt.date(2026, 1, 1), "standing_charge_per_day": "0.45", "price_per_kwh": "0.30",
    "windows": [{"days": "weekdays", "start": "22:00", "end": "06:00", "price_per_kwh": "0.20"}],
}]}


def _reset_midday() -> Scenario:
    start = at("UTC", 2026, 5, 4)
    # 0→500 Wh by noon, then the meter restarts at 0 and counts 200 Wh more
    morning = counter(start, [1000 + 500 * i / 720 for i in range(721)])
    afternoon = counter(start + 721 * MIN, [200 * i / 718 for i in range(719)])
    return Scenario("reset mid-day", "UTC", morning + afternoon, {"2026-05-04": 0.700})


def _offline_two_days() -> Scenario:
    start = at("UTC", 2026, 5, 4, 11)
    before = constant_power(start, start + HOUR, 1000, 50_000)  # 11:00–12:00: 1 kWh
    # offline from 12:00 on the 4th to 12:00 on the 6th; the counter shows 48 kWh more (1 kW on average)
    after = constant_power(start + 49 * HOUR, start + 50 * HOUR, 1000, 51_000 + 48_000)
    return Scenario("offline two days, back with a jumped counter", "UTC", before + after,
                    {"2026-05-04": 13.0, "2026-05-05": 24.0, "2026-05-06": 13.0},
                    expected_gap_days=("2026-05-04", "2026-05-05", "2026-05-06"))


def _jitter_dip() -> Scenario:
    return Scenario("jitter dip", "UTC", counter(at("UTC", 2026, 5, 4, 8), [1000, 1000.5, 1000.2, 1001, 1002]),
                    {"2026-05-04": 0.002})


def _spike() -> Scenario:
    values = [1000, 1001, 999_999, 1002, 1003]
    return Scenario("spike", "UTC", counter(at("UTC", 2026, 5, 4, 8), values), {"2026-05-04": 0.003})


def _rollover() -> Scenario:
    return Scenario("rollover of a 100 kWh counter", "UTC",
                    counter(at("UTC", 2026, 5, 4, 8), [99_980, 99_990, 10, 30]),
                    {"2026-05-04": 0.050}, params=EnergyParams(counter_rollover_wh=100_000))


def _day(zone: str, y: int, m: int, d: int, watts: float = 1000) -> list[Reading]:
    start = at(zone, y, m, d)
    nxt = dt.date(y, m, d) + dt.timedelta(days=1)
    return constant_power(start, at(zone, nxt.year, nxt.month, nxt.day), watts)


def _kolkata() -> Scenario:
    # 1 kW until 00:00 UTC on 2 June, 2 kW after: the local day (18:30 UTC → 18:30 UTC) sees 5.5 h + 18.5 h
    first = constant_power(at("UTC", 2026, 6, 1, 12), at("UTC", 2026, 6, 2), 1000)
    second = constant_power(at("UTC", 2026, 6, 2) + MIN, at("UTC", 2026, 6, 3), 2000,
                            first[-1].energy_wh + 2000 / 60)  # type: ignore[operator]
    return Scenario("a day in Asia/Kolkata", "Asia/Kolkata", first + second,
                    {"2026-06-02": 5.5 + 2 * 18.5})


SCENARIOS = [
    _reset_midday(),
    _offline_two_days(),
    _jitter_dip(),
    _spike(),
    _rollover(),
    Scenario("DST spring-forward, Europe/Berlin", "Europe/Berlin", _day("Europe/Berlin", 2026, 3, 29),
             {"2026-03-29": 23.0}),
    Scenario("DST fall-back, Europe/Berlin", "Europe/Berlin", _day("Europe/Berlin", 2026, 10, 25),
             {"2026-10-25": 25.0}),
    Scenario("DST spring-forward, America/New_York", "America/New_York", _day("America/New_York", 2026, 3, 8),
             {"2026-03-08": 23.0}),
    Scenario("DST fall-back, America/New_York", "America/New_York", _day("America/New_York", 2026, 11, 1),
             {"2026-11-01": 25.0}),
    _kolkata(),
    Scenario("Lord Howe's 30-minute DST end", "Australia/Lord_Howe", _day("Australia/Lord_Howe", 2026, 4, 5),
             {"2026-04-05": 24.5}),
    Scenario("tariff change mid-month", "UTC",
             constant_power(at("UTC", 2026, 6, 14), at("UTC", 2026, 6, 16), 500),
             {"2026-06-14": 12.0, "2026-06-15": 12.0}, tariff=FLAT,
             expected_cost={"2026-06-14": "4.05", "2026-06-15": "5.30"}),  # 12×0.30+0.45, 12×0.40+0.50
    Scenario("time-of-use window across midnight", "Europe/Berlin", _day("Europe/Berlin", 2026, 6, 10),
             {"2026-06-10": 24.0}, tariff=NIGHT,
             # Wednesday: 00–06 (Tuesday night's window) and 22–24 at 0.20, 16 h at 0.30, + 0.45
             expected_cost={"2026-06-10": "6.85"}),
]


def _feed(processor: Processor, readings: list[Reading], per_message: int = 60, per_batch: int = 100) -> None:
    records = []
    # Each message arrives just after its newest sample (the pipeline judges a reading's age by its arrival).
    for seq, i in enumerate(range(0, len(readings), per_message), start=1):
        chunk = readings[i:i + per_message]
        body = orjson.loads(encode_message(DEVICE, seq, chunk))
        body["topic_device_id"] = DEVICE
        arrival_s = max(r.ts_ms for r in chunk) / 1000 + 1
        records.append(StreamRecord("shardId-000000000000", str(seq), DEVICE, orjson.dumps(body), arrival_s))
    for i in range(0, len(records), per_batch):
        response = processor.handle(kinesis_event(records[i:i + per_batch], "arn:aws:kinesis:local:0:stream/s"))
        assert response == {"batchItemFailures": []}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario: Scenario, tmp_path: Path) -> None:
    # GIVEN a meter in its zone, WHEN its readings are processed
    store = SqliteStore(tmp_path / "store.db")
    zones = ZoneResolver(scenario.zone)
    processor = Processor(store, FolderArchive(tmp_path / "archive"), SqliteDeadLetters(tmp_path / "dl.db"),
                          PrometheusMetrics(), zones, scenario.params, clock=lambda: 2_000_000_000.0)
    _feed(processor, scenario.readings)
    tariff = Tariff.from_dict(scenario.tariff) if scenario.tariff else None
    reports = QueryService(store, zones, tariff).consumption(DEVICE, "day", 0, 2**42)
    # THEN each local day holds the hand-computed energy (and cost)
    days = {r.period: r for r in reports}
    for day, kwh in scenario.expected_days.items():
        assert days[day].import_kwh == pytest.approx(kwh, abs=scenario.tolerance_kwh), day
    for report in reports:
        assert report.import_kwh >= 0
    # AND the days holding a gap longer than max_gap say so, and no other day does
    assert tuple(sorted(day for day, r in days.items() if r.gap_minutes)) == scenario.expected_gap_days
    for day, cost in (scenario.expected_cost or {}).items():
        assert days[day].cost is not None
        assert round(days[day].cost, 2) == Decimal(cost), day
