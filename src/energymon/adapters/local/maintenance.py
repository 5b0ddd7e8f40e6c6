"""Retention and compaction of a local data directory: what ``energymon maintain`` and the runtime's
maintenance thread run.

Retention purges raw readings past ``raw_retention_days`` from the store (rollups stay, see
processing/retention.py); compaction gives the freed pages back to the file system and merges the
archive's per-batch files of past days into one file per day.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from energymon.processing.retention import WARM_UP_COUNTERS

if TYPE_CHECKING:
    from collections.abc import Callable

    from energymon.adapters.columnar import ArchiveProblem
    from energymon.adapters.local.archive import FolderArchive
    from energymon.adapters.local.store import SqliteStore

__all__ = ["MaintenanceReport", "maintain"]

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class MaintenanceReport:
    purged_readings: int
    kept_readings: int
    store_bytes_freed: int
    archive_days_compacted: int
    archive_files_merged: int

    def lines(self) -> list[str]:
        return [
            f"purged {self.purged_readings} raw reading(s) older than the retention "
            f"({self.kept_readings} kept; rollups untouched)",
            f"compacted the store: {self.store_bytes_freed} byte(s) freed",
            f"compacted the archive: {self.archive_files_merged} file(s) merged into "
            f"{self.archive_days_compacted} daily file(s)",
        ]


def maintain(store: SqliteStore, archive: FolderArchive, raw_retention_days: float, clock: Any = time.time,
             on_problem: Callable[[ArchiveProblem], None] | None = None) -> MaintenanceReport:
    """Purge, then compact the store and the archive's closed days (today's files are still being written)."""
    now_ms = int(clock() * 1000)
    purged = store.purge_readings(now_ms - int(raw_retention_days * _DAY_MS), WARM_UP_COUNTERS)
    freed = store.compact()
    days, merged = archive.compact(now_ms - now_ms % _DAY_MS, on_problem)
    return MaintenanceReport(purged, store.readings_count(), freed, days, merged)
