"""GIVEN a meter whose readings arrive hours or days late, WHEN they are processed, THEN they land in the
right minutes and every hour, day and month above them is corrected — the same as if they had come in order."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.store import SqliteStore
from energymon.domain.reading import Reading, encode_message, parse_ts
from energymon.ports import StreamRecord
from energymon.processing import Processor, ZoneResolver

if TYPE_CHECKING:
    from pathlib import Path

DEVICE = "meter-7"
T0 = parse_ts("2026-06-28T20:00:00Z")  # Sunday 22:00 in Berlin: the data crosses a day and a month
MIN = 60_000


def _processor(root: Path) -> tuple[Processor, SqliteStore]:
    store = SqliteStore(root / "store.db")
    processor = Processor(store, FolderArchive(root / "archive"), SqliteDeadLetters(root / "dl.db"),
                          PrometheusMetrics(), ZoneResolver("Europe/Berlin"), clock=lambda: 2_000_000_000.0)
    return processor, store


def _deliver(processor: Processor, chunks: list[list[Reading]], arrival_s: float | None = None) -> None:
    """Each chunk arrives just after its newest reading, or all at ``arrival_s`` (late data)."""
    for seq, chunk in enumerate(chunks, start=1):
        body = orjson.loads(encode_message(DEVICE, seq, chunk))
        body["topic_device_id"] = DEVICE
        arrived = arrival_s if arrival_s is not None else max(r.ts_ms for r in chunk) / 1000 + 60
        record = StreamRecord("shardId-000000000000", str(seq), DEVICE, orjson.dumps(body), arrived)
        assert processor.handle(kinesis_event([record], "arn:aws:kinesis:local:0:stream/s")) == {
            "batchItemFailures": []}


def _rollups(store: SqliteStore) -> dict[str, list[tuple[str, int, int]]]:
    return {res: [(p.start, round(p.import_kwh * 1e6), p.gap_minutes)
                  for p in store.periods(DEVICE, res, 0, 2**42, "Europe/Berlin")]
            for res in ("minute", "hour", "day", "month")}


def test_readings_days_late_correct_every_rollup_above_them(tmp_path: Path) -> None:
    # Five days of a counter read every minute: 1 Wh per minute, except a 30-minute stretch at 2 Wh.
    readings, energy = [], 100_000.0
    for m in range(5 * 24 * 60):
        energy += 2.0 if 3000 <= m < 3030 else 1.0
        readings.append(Reading(DEVICE, T0 + m * MIN, None, energy))
    chunks = [readings[i:i + 60] for i in range(0, len(readings), 60)]

    in_order, store_a = _processor(tmp_path / "a")
    _deliver(in_order, chunks)

    # The reader was offline for day 2 to day 4: those hours arrive three days late, after the rest
    late, store_b = _processor(tmp_path / "b")
    held_back = set(range(30, 90))
    last_s = readings[-1].ts_ms / 1000 + 60  # the held-back chunks arrive after everything else
    _deliver(late, [c for i, c in enumerate(chunks) if i not in held_back])
    before = _rollups(store_b)
    assert sum(g for _, _, g in before["day"]) > 0  # meanwhile the silence shows as a gap
    _deliver(late, [chunks[i] for i in sorted(held_back, reverse=True)], last_s)  # and newest first, too

    assert _rollups(store_b) == _rollups(store_a)
    days = {d: mwh for d, mwh, _ in _rollups(store_a)["day"]}
    assert sum(days.values()) == (len(readings) - 1 + 30) * 1000
    assert all(g == 0 for _, _, g in _rollups(store_b)["day"])


def test_a_meter_back_after_a_year_spreads_its_counter_over_the_year_and_flags_it(tmp_path: Path) -> None:
    # GIVEN a counter read once, then again 365 days later with 8,760 kWh more (1 kW on average)
    processor, store = _processor(tmp_path)
    year_ms = 365 * 24 * 3_600_000
    _deliver(processor, [[Reading(DEVICE, T0, None, 100_000.0)],
                         [Reading(DEVICE, T0 + year_ms, None, 100_000.0 + 8_760_000)]])
    days = store.periods(DEVICE, "day", 0, 2**42, "Europe/Berlin")
    # THEN every whole local day of the silence holds 24 kWh (23/25 on DST days), flagged as a gap
    by_day = {p.start: p for p in days}
    assert round(by_day["2026-08-01"].import_kwh, 3) == 24.0
    assert round(by_day["2026-10-25"].import_kwh, 3) == 25.0
    assert by_day["2026-08-01"].gap_minutes == 1440
    assert round(sum(p.import_kwh for p in days), 3) == 8760.0
