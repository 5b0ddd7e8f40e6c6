"""Known data for the API tests: a fixed clock on the spring-forward day in Berlin."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from energymon.adapters.local.store import SqliteStore
from energymon.domain.energy import MinuteEnergy
from energymon.domain.reading import Reading

BERLIN = ZoneInfo("Europe/Berlin")
ZONES = {"apt-1": "Europe/Berlin", "apt-2": "UTC"}
# Noon in Berlin on the spring-forward day: the local day has 23 hours.
NOW_MS = int(datetime(2026, 3, 29, 12, 0, tzinfo=BERLIN).timestamp() * 1000)
MIN = 60_000


def local_ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=BERLIN).timestamp() * 1000)  # type: ignore[misc]


def seed(store: SqliteStore) -> None:
    """apt-1: 1 Wh per minute (60 W) from 27 March 00:00 Berlin to now, except 28 March (a gap);
    raw readings every 10 s for the last 30 minutes with a 5-minute hole."""
    day27 = (local_ms(2026, 3, 27), local_ms(2026, 3, 28))
    day29 = (local_ms(2026, 3, 29), NOW_MS)
    for start, end in (day27, day29):
        minutes = [MinuteEnergy(m, 1000, 0, 80.0, 6) for m in range(start, end, MIN)]
        store.replace_minutes("apt-1", start, end, minutes, "Europe/Berlin")
    readings = [
        Reading("apt-1", ts, power_w=60.0 + (ts // 10_000) % 5, energy_wh=1000.0 + (ts - NOW_MS) / 60_000)
        for ts in range(NOW_MS - 30 * MIN, NOW_MS, 10_000)
        if not NOW_MS - 20 * MIN <= ts < NOW_MS - 15 * MIN
    ]
    store.add_readings("apt-1", readings)
    store.add_readings("apt-2", [Reading("apt-2", NOW_MS - 3_600_000, power_w=500.0, energy_wh=10.0)])


