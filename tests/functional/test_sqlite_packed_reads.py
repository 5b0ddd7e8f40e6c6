"""The store's reads over packed minutes: any range, starting and ending anywhere in a minute, comes back with
exactly the nearest reading on each side."""

from __future__ import annotations

from typing import TYPE_CHECKING

from energymon.adapters.local.store import SqliteStore
from energymon.domain.reading import Reading

if TYPE_CHECKING:
    from pathlib import Path

MINUTE = 1_796_000_040_000 - 1_796_000_040_000 % 60_000


def test_given_readings_in_and_after_a_minute_when_read_around_a_range_ending_inside_it_then_the_nearest_follow(
    tmp_path: Path,
) -> None:
    # GIVEN readings every 20 s over three minutes
    store = SqliteStore(tmp_path / "store.db")
    readings = [Reading("apt-1", MINUTE + i * 20_000, 100.0 + i, 5.0 + i) for i in range(9)]
    store.add_readings("apt-1", readings)
    # WHEN ranges that start and end in the middle of minutes are read, THEN the range comes back with exactly the
    # nearest reading on each side (the general contract the processor's recompute relies on)
    for start in range(0, 180_000, 5_000):
        for end in range(start, 180_000, 15_000):
            inside = [r for r in readings if MINUTE + start <= r.ts_ms <= MINUTE + end]
            before = [r for r in readings if r.ts_ms < MINUTE + start][-1:]
            after = [r for r in readings if r.ts_ms > MINUTE + end][:1]
            assert store.readings_around("apt-1", MINUTE + start, MINUTE + end) == [*before, *inside, *after]
            assert store.readings_before("apt-1", MINUTE + start, 2) == [r for r in readings
                                                                         if r.ts_ms < MINUTE + start][-2:]
            assert store.readings_after("apt-1", MINUTE + end, 2) == [r for r in readings
                                                                      if r.ts_ms > MINUTE + end][:2]
