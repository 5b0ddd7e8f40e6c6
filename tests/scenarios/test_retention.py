"""GIVEN raw readings purged past the retention, WHEN late data arrives next to what was purged, THEN every
minute, hour, day and month comes out exactly as in a store that never purged anything — never negative,
never inflated — and the purge itself never changes a rollup."""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
import pytest

from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.store import SqliteStore
from energymon.domain.reading import MAX_READING_AGE_MS, Reading, encode_message, parse_ts
from energymon.ports import StreamRecord
from energymon.processing import Processor, ZoneResolver
from energymon.processing.retention import WARM_UP_COUNTERS, minimum_raw_retention_days

if TYPE_CHECKING:
    from pathlib import Path

DEVICE = "meter-9"
NOW = parse_ts("2026-11-30T12:00:00Z")
DAY = 86_400_000
MIN = 60_000
RETENTION_DAYS = minimum_raw_retention_days(24)  # the shortest retention the settings accept


class _Site:
    def __init__(self, root: Path) -> None:
        self.store = SqliteStore(root / "store.db")
        self.processor = Processor(self.store, FolderArchive(root / "archive"), SqliteDeadLetters(root / "dl.db"),
                                   PrometheusMetrics(), ZoneResolver("Europe/Berlin"), clock=lambda: NOW / 1000)
        self.seq = 0

    def deliver(self, readings: list[Reading], arrival_ms: int | None = None) -> None:
        """Chunks of 60 readings, each arriving just after its newest reading or all at ``arrival_ms``."""
        for start in range(0, len(readings), 60):
            chunk = readings[start:start + 60]
            self.seq += 1
            body = orjson.loads(encode_message(DEVICE, self.seq, chunk))
            body["topic_device_id"] = DEVICE
            arrived = (arrival_ms if arrival_ms is not None else chunk[-1].ts_ms + MIN) / 1000
            record = StreamRecord("shardId-000000000000", str(self.seq), DEVICE, orjson.dumps(body), arrived)
            event = kinesis_event([record], "arn:aws:kinesis:local:0:stream/s")
            assert self.processor.handle(event) == {"batchItemFailures": []}

    def rollups(self) -> dict[str, list[tuple[str, int, int]]]:
        return {res: [(p.start, round(p.import_kwh * 1e6), p.gap_minutes)
                      for p in self.store.periods(DEVICE, res, 0, 2**42, "Europe/Berlin")]
                for res in ("minute", "hour", "day", "month")}


def _meter(start_ms: int, count: int, step_ms: int, first_wh: float, power_only_every: int = 0) -> list[Reading]:
    """A counter rising 100 W on average (uneven: 50 W then 150 W half-days), with power-only samples between."""
    out, energy = [], first_wh
    for i in range(count):
        ts = start_ms + i * step_ms
        watts = 50.0 if (ts // (DAY // 2)) % 2 else 150.0
        energy += watts * step_ms / 3_600_000
        if power_only_every and i % power_only_every:
            out.append(Reading(DEVICE, ts, watts, None))
        else:
            out.append(Reading(DEVICE, ts, watts, round(energy, 3)))
    return out


@pytest.fixture
def sites(tmp_path: Path) -> tuple[_Site, _Site]:
    return _Site(tmp_path / "kept"), _Site(tmp_path / "purged")


def test_late_data_inside_a_silence_whose_start_was_purged_is_recomputed_exactly(sites: tuple[_Site, _Site]) -> None:
    kept, purged = sites
    # GIVEN ten days of readings ending 60 days ago, then a silence, then two days ending yesterday
    early = _meter(NOW - 70 * DAY, 10 * 24 * 12 + 1, 5 * MIN, 1_000_000.0, power_only_every=3)  # ends on a counter
    last_wh = max(r.energy_wh for r in early if r.energy_wh is not None)
    recent = _meter(NOW - 3 * DAY, 2 * 24 * 12, 5 * MIN, last_wh + 150_000.0)
    for site in sites:
        site.deliver(early)
        site.deliver(recent)
    before = purged.rollups()

    # WHEN the store purges raw readings past the shortest allowed retention
    deleted = purged.store.purge_readings(NOW - int(RETENTION_DAYS * DAY), WARM_UP_COUNTERS)

    # THEN the old raw readings are gone but no rollup changed
    assert deleted > len(early) - 100
    assert purged.rollups() == before
    # WHEN readings of 30 days ago (inside the silence) arrive late, now
    late = _meter(NOW - 30 * DAY, 12, 5 * MIN, 1_075_000.0)
    for site in sites:
        site.deliver(late, arrival_ms=NOW)

    # THEN the purged store holds exactly the energy of the store that kept everything
    after = purged.rollups()
    assert after == kept.rollups()
    assert after != before  # the late data did change the silence's rollups
    assert all(mwh >= 0 for _, mwh, _ in after["minute"])
    total = sum(mwh for _, mwh, _ in after["day"])
    # the counter's whole rise, first reading to last: nothing lost with the purged readings, nothing added
    # (each minute is rounded to a whole mWh once: half a mWh per minute row at most)
    rise_mwh = ((recent[-1].energy_wh or 0) - (early[0].energy_wh or 0)) * 1000
    assert abs(total - rise_mwh) <= len(after["minute"]) / 2


def test_late_data_at_the_oldest_accepted_age_next_to_purged_readings_is_recomputed_exactly(
    sites: tuple[_Site, _Site],
) -> None:
    kept, purged = sites
    # GIVEN a counter read every five minutes for fifty days, with power-only samples between counter readings
    history = _meter(NOW - 50 * DAY, 50 * 24 * 12, 5 * MIN, 2_000_000.0, power_only_every=4)
    held_back = {i for i, r in enumerate(history) if NOW - MAX_READING_AGE_MS + 3_600_000 <= r.ts_ms
                 < NOW - MAX_READING_AGE_MS + 2 * 3_600_000}
    for site in sites:
        site.deliver([r for i, r in enumerate(history) if i not in held_back])
    # AND the second store purged past the shortest allowed retention
    assert purged.store.purge_readings(NOW - int(RETENTION_DAYS * DAY), WARM_UP_COUNTERS) > 0

    # WHEN the hour held back (35 days old less an hour: the oldest the processor accepts) arrives now
    for site in sites:
        site.deliver([history[i] for i in sorted(held_back)], arrival_ms=NOW)
    # THEN both stores agree on every rollup
    assert purged.rollups() == kept.rollups()
