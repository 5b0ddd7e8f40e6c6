"""How long raw readings must stay in the store so that late data is still recomputed exactly.

The processor accepts a reading up to ``MAX_READING_AGE_MS`` older than its arrival in the stream, and a
record can wait in the stream for its whole retention before it is processed. Recomputing it reads the
store back up to ``_COUNTER_REACH_MS`` further (the counter readings that bracket power-only readings and
settle the counter's state). So raw readings younger than the sum of those, plus a day of slack, are never
purged, and a retention shorter than that is refused. Older raw readings may go: every minute, hour, day
and month rollup stays, and the archive keeps every reading for a replay.

A device silent for longer than the retention would lose the reading that opens its silence, and late data
inside the silence would then be recomputed without it. The purge therefore keeps, per device, the readings
a recompute can still reach below the horizon (see ``SqliteStore.purge_readings``): the newest reading
older than the horizon, the rest of its minute and the reading before, and ``_WARM_UP`` counter readings
before those.
"""

from __future__ import annotations

from energymon.domain.reading import MAX_READING_AGE_MS
from energymon.processing.processor import _COUNTER_REACH_MS, _WARM_UP

__all__ = ["DEFAULT_RAW_RETENTION_DAYS", "WARM_UP_COUNTERS", "minimum_raw_retention_days", "retention_problem"]

_DAY_MS = 86_400_000
DEFAULT_RAW_RETENTION_DAYS = 90.0
WARM_UP_COUNTERS = _WARM_UP


def minimum_raw_retention_days(stream_retention_hours: float) -> float:
    """The shortest raw retention that keeps every reading a late reading's recompute can read."""
    return (MAX_READING_AGE_MS + _COUNTER_REACH_MS) / _DAY_MS + stream_retention_hours / 24 + 1


def retention_problem(days: float, stream_retention_hours: float) -> str | None:
    """Why ``days`` cannot be the raw retention, or None."""
    if not days > 0:
        return f"must be a positive number of days, not {days:g}"
    minimum = minimum_raw_retention_days(stream_retention_hours)
    if days < minimum:
        return (
            f"{days:g} days is shorter than the processor's recompute reach: a reading may arrive "
            f"{MAX_READING_AGE_MS // _DAY_MS} days late, wait {stream_retention_hours:g} hours in the stream "
            f"(retention_hours), and its recompute reads {_COUNTER_REACH_MS // _DAY_MS} days further back; "
            f"use at least {minimum:g} days"
        )
    return None
