"""Archive folder: raw readings as gzip NDJSON in Hive-style partitions, written atomically.

One object per batch and UTC date (``raw/date=YYYY-MM-DD/<batch>.ndjson.gz``), every line a reading with its
``device_id``. Partitioning by device as well would write one object per device per batch: on S3, at a
thousand apartments, that is 100 PUTs a second and the largest line of the bill (see README, "What it costs").
"""

from __future__ import annotations

import gzip
import os
from collections import defaultdict
from typing import TYPE_CHECKING

import orjson

from energymon.adapters.local.sqlite import DATA_DIR_FIX, path_problem
from energymon.domain.reading import format_ts
from energymon.errors import StoreError
from energymon.ports import Archive

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from energymon.domain.reading import Reading

__all__ = ["FolderArchive", "archive_key", "group_for_archive"]

_DAY_MS = 86_400_000


def archive_key(date: str, batch_id: str) -> str:
    """The object key shared by the folder and the S3 archive: ``raw/date=.../<batch>.ndjson.gz``."""
    return f"raw/date={date}/{batch_id}.ndjson.gz"


def group_for_archive(batch_id: str, readings: Sequence[Reading]) -> dict[str, bytes]:
    """Key → gzip NDJSON body; deterministic, so a replayed batch rewrites the same objects."""
    groups: dict[int, list[Reading]] = defaultdict(list)
    for r in readings:
        groups[r.ts_ms // _DAY_MS].append(r)
    out = {}
    for day, rows in groups.items():
        rows.sort(key=lambda r: (r.device_id, r.ts_ms))
        lines = b"".join(orjson.dumps(r.to_dict()) + b"\n" for r in rows)
        out[archive_key(format_ts(day * _DAY_MS)[:10], batch_id)] = gzip.compress(lines, compresslevel=5, mtime=0)
    return out


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
