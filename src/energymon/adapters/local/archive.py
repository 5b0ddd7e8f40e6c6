"""Archive folder: raw readings as gzip NDJSON in Hive-style partitions, written atomically, compacted daily.

One object per batch and UTC date (``raw/date=YYYY-MM-DD/<batch>.ndjson.gz``), every line a reading with its
``device_id``; ``compact`` merges a closed day's batch files into ``days/date=YYYY-MM-DD/readings.parquet``
(see adapters/columnar.py). Partitioning by device as well would write one object per device per batch: on S3, at a
thousand apartments, that is 100 PUTs a second and the largest line of the bill (see README, "What it costs").
"""

from __future__ import annotations

import gzip
import logging
import os
from collections import defaultdict
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import orjson

from energymon.adapters.columnar import (
    BATCH_SUFFIX,
    DAY_FILE,
    DAYS_DIR,
    ArchiveProblem,
    day_key,
    decode_file,
    encode_day,
    legacy_day_key,
    merge_day,
)
from energymon.adapters.local.sqlite import DATA_DIR_FIX, path_problem
from energymon.domain.reading import format_ts
from energymon.errors import StoreError
from energymon.ports import Archive

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

    from energymon.domain.reading import Reading

__all__ = ["FolderArchive", "archive_key", "encode_readings", "group_for_archive"]

_DAY_MS = 86_400_000
log = logging.getLogger(__name__)


def archive_key(date: str, batch_id: str) -> str:
    """The object key shared by the folder and the S3 archive: ``raw/date=.../<batch>.ndjson.gz``."""
    return f"raw/date={date}/{batch_id}.ndjson.gz"


def group_for_archive(batch_id: str, readings: Sequence[Reading]) -> dict[str, bytes]:
    """Key → gzip NDJSON body; deterministic, so a replayed batch rewrites the same objects."""
    groups: dict[int, list[Reading]] = defaultdict(list)
    for r in readings:
        groups[r.ts_ms // _DAY_MS].append(r)
    return {archive_key(format_ts(day * _DAY_MS)[:10], batch_id): encode_readings(rows)
            for day, rows in groups.items()}


def encode_readings(rows: list[Reading]) -> bytes:
    """One archive object's body (sorts ``rows`` in place): gzip NDJSON by device and time, the same bytes for the
    same readings (gzip ``mtime=0``), so a content hash can name it."""
    rows.sort(key=_ORDER)
    # Level 1: these objects live until the day's compaction into Parquet; level 5 cost 2 µs a reading
    # for a few percent of size.
    return gzip.compress(_ndjson(rows), compresslevel=1, mtime=0)


_ORDER = attrgetter("device_id", "ts_ms")


def _ndjson(rows: list[Reading]) -> bytes:
    """One JSON object per line, the bytes of ``orjson.dumps(r.to_dict())`` per reading, in one orjson call.

    A JSON array of the same objects differs from the lines only in the ``},{`` between objects; that can
    occur nowhere else unless a device id holds a ``}`` (decoders refuse such ids, but the lines are then
    written one by one, so the bytes never depend on it)."""
    dicts: list[dict[str, Any]] = []
    append = dicts.append
    for r in rows:
        item: dict[str, Any] = {"device_id": r.device_id, "ts": format_ts(r.ts_ms)}
        if r.power_w is not None:
            item["power_w"] = r.power_w
        if r.energy_wh is not None:
            item["energy_wh"] = r.energy_wh
        if r.export_wh is not None or r.voltage_v is not None or r.current_a is not None:
            item = r.to_dict()
        append(item)
    if any("}" in device for device in {r.device_id for r in rows}):
        return b"".join(orjson.dumps(item) + b"\n" for item in dicts)
    return orjson.dumps(dicts)[1:-1].replace(b"},{", b"}\n{") + b"\n"


class FolderArchive(Archive):
    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the archive folder {root}: {path_problem(root, exc, folder=True)}; {DATA_DIR_FIX}"
            ) from exc
        if not os.access(root, os.W_OK | os.X_OK):
            # Refused now rather than on every batch: the processor would retry archiving for ever.
            raise StoreError(
                f"the archive folder {root} cannot be written (read-only file system or no write permission); "
                f"{DATA_DIR_FIX}"
            )

    def put_readings(self, batch_id: str, readings: Sequence[Reading]) -> list[str]:
        written = []
        for key, body in group_for_archive(batch_id, readings).items():
            path = self.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            # Atomic rename, no fsync: like the SQLite files (WAL, synchronous=NORMAL) this survives a
            # crashed process; only a power cut can lose the last writes, and the stream still holds them.
            tmp.write_bytes(body)
            os.replace(tmp, path)
            written.append(key)
        return written

    # ---- compaction and reading back ----------------------------------------------------------------

    def day_folders(self) -> list[Path]:
        """The days that have batch files (``raw/date=...``)."""
        raw = self.root / "raw"
        return sorted(p for p in raw.glob("date=*") if p.is_dir()) if raw.is_dir() else []

    def _dates(self) -> list[str]:
        """Every date with a batch file or a day file."""
        found = {p.name.removeprefix("date=") for p in self.day_folders()}
        days = self.root / DAYS_DIR
        if days.is_dir():
            found |= {p.name.removeprefix("date=") for p in days.glob("date=*") if p.is_dir()}
        return sorted(found)

    def _day_files(self, date: str) -> list[Path]:
        """The date's Parquet files: the one in ``days/`` and one of the earlier layout, where they exist."""
        return [path for path in (self.root / day_key(date), self.root / legacy_day_key(date)) if path.exists()]

    def compact(self, before_day_ms: int, on_problem: Callable[[ArchiveProblem], None] | None = None,
                ) -> tuple[int, int]:
        """Merge each day before ``before_day_ms`` that has batch files into its one Parquet file in ``days/``.

        The Parquet file is written (atomically) before the batch files are deleted, so a crash in between
        only leaves files the next compaction merges again (duplicates are dropped). A damaged batch file is
        reported and left where it is, never deleted; a damaged day file stops its day's compaction, so it is
        never overwritten. A day file of the earlier layout is merged in and removed. Returns (days compacted,
        files merged into them).
        """
        cutoff = format_ts(before_day_ms)[:10]
        days = merged = 0
        for date in self._dates():
            if date >= cutoff:
                continue
            target, legacy = self.root / day_key(date), self.root / legacy_day_key(date)
            batches = sorted((self.root / "raw" / f"date={date}").glob(f"*{BATCH_SUFFIX}"))
            if not batches and not legacy.exists():
                continue
            readings, good = [], []
            for path in [*self._day_files(date), *batches]:
                decoded = decode_file(self._name(path), path.read_bytes())
                if decoded.problem is not None:
                    (on_problem or _log_problem)(decoded.problem)
                    if path.name == DAY_FILE:  # never overwrite (or drop) a day file we could not read
                        break
                    continue
                readings.extend(decoded.readings)
                good.append(path)
            else:
                if not [p for p in good if p != target]:
                    continue  # only damaged batch files besides the day file: nothing to merge
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.parent / f".{DAY_FILE}.tmp"
                tmp.write_bytes(encode_day(merge_day(readings)))
                os.replace(tmp, target)
                for path in good:
                    if path != target:
                        path.unlink()
                        merged += 1
                days += 1
        return days, merged

    def files(self) -> list[Path]:
        """Every archive file, day by day (the day files first)."""
        out = []
        for date in self._dates():
            folder = self.root / "raw" / f"date={date}"
            out += self._day_files(date) + sorted(folder.glob(f"*{BATCH_SUFFIX}"))
        return out

    def read_all(self, on_problem: Callable[[ArchiveProblem], None]) -> Iterator[list[Reading]]:
        """Each readable file's readings, in day order; a damaged file is reported and skipped."""
        for path in self.files():
            decoded = decode_file(self._name(path), path.read_bytes())
            if decoded.problem is not None:
                on_problem(decoded.problem)
                continue
            yield decoded.readings

    def _name(self, path: Path) -> str:
        return str(path.relative_to(self.root))


def _log_problem(problem: ArchiveProblem) -> None:
    log.warning("archive file %s", problem.line())
