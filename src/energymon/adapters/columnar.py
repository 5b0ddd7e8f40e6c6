"""The archive's files, read and written: per-batch gzip NDJSON (what each batch writes) and daily Parquet
(what compaction makes of a closed day).

Both runtimes share one layout: a batch writes ``raw/date=YYYY-MM-DD/<batch>.ndjson.gz``; compaction merges a
closed day's batch files (and the day's earlier Parquet file, when late data came in after it) into
``days/date=YYYY-MM-DD/readings.parquet`` — zstd, sorted by device and time, the device id a column, the date in
the path (Hive partitioning). ``days/`` holds nothing but those files, so DuckDB, Athena (the Glue table) or pandas
read it as one table. Duplicates (a reading delivered in two batches) are dropped: the archive is the set of
accepted readings. Day files of an earlier layout (``raw/date=.../readings.parquet``) are still read, and the
next compaction moves them to ``days/``.

pyarrow is imported only here and only when compacting or reading: the Lambda handler never imports it,
so the Lambda package stays small (it keeps writing gzip NDJSON; compaction runs elsewhere).
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from energymon.domain.reading import Reading, parse_ts

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["BATCH_SUFFIX", "DAYS_DIR", "DAY_FILE", "FIELDS", "ArchiveProblem", "Decoded", "day_key", "decode_file",
           "encode_day", "legacy_day_key", "merge_day"]

BATCH_SUFFIX = ".ndjson.gz"
DAY_FILE = "readings.parquet"
DAYS_DIR = "days"
FIELDS = ("power_w", "energy_wh", "export_wh", "voltage_v", "current_a")


def day_key(date: str) -> str:
    """Where a closed UTC day's Parquet file lives: apart from the batch objects, so a table over ``days/`` is
    Parquet only (Athena reads every object under a partition's location)."""
    return f"{DAYS_DIR}/date={date}/{DAY_FILE}"


def legacy_day_key(date: str) -> str:
    """Where day files were written before ``days/``: beside the day's batch objects."""
    return f"raw/date={date}/{DAY_FILE}"


@dataclass(frozen=True)
class ArchiveProblem:
    """A file that could not be read whole: its name, why, and how many readings it held if known."""

    name: str
    reason: str
    readings: int | None = None

    def line(self) -> str:
        held = f"; it held {self.readings} reading(s)" if self.readings is not None else ""
        return f"{self.name}: {self.reason}{held} — skipped"


@dataclass
class Decoded:
    readings: list[Reading] = field(default_factory=list)
    problem: ArchiveProblem | None = None


def decode_file(name: str, body: bytes) -> Decoded:
    """Every reading of one archive file, or the reason it cannot be read (nothing from a damaged file)."""
    if name.endswith(".parquet"):
        return _decode_parquet(name, body)
    try:
        lines = gzip.decompress(body).splitlines()
    except (OSError, EOFError, zlib.error) as exc:
        return Decoded(problem=ArchiveProblem(name, f"not a whole gzip file ({exc})"))
    try:
        return Decoded([_from_dict(orjson.loads(line)) for line in lines if line])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        return Decoded(problem=ArchiveProblem(name, f"a line is not an archived reading ({exc})", len(lines)))


def _from_dict(row: dict[str, Any]) -> Reading:
    return Reading(row["device_id"], parse_ts(row["ts"]), *(row.get(f) for f in FIELDS))


def _decode_parquet(name: str, body: bytes) -> Decoded:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.ParquetFile(pa.BufferReader(body)).metadata
    except (pa.ArrowException, OSError) as exc:
        return Decoded(problem=ArchiveProblem(name, f"not a whole Parquet file ({exc})"))
    try:
        table = pq.read_table(pa.BufferReader(body))
        columns = {c: table.column(c).to_pylist() for c in ("device_id", "ts", *FIELDS)}
    except (pa.ArrowException, OSError, KeyError) as exc:
        return Decoded(problem=ArchiveProblem(name, f"cannot be read ({exc})", metadata.num_rows))
    readings = [
        Reading(device, int(ts.timestamp() * 1000) if not isinstance(ts, int) else ts,
                *(columns[f][i] for f in FIELDS))
        for i, (device, ts) in enumerate(zip(columns["device_id"], columns["ts"], strict=True))
    ]
    return Decoded(readings)


def merge_day(readings: Iterable[Reading]) -> list[Reading]:
    """One reading per (device, time), sorted: what a day's Parquet file holds."""
    unique = {(r.device_id, r.ts_ms): r for r in readings}
    return [unique[key] for key in sorted(unique)]


def encode_day(readings: list[Reading]) -> bytes:
    """A day's readings as Parquet: zstd, timestamps delta-encoded (a meter's clock ticks evenly)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([("device_id", pa.string()), ("ts", pa.timestamp("ms", tz="UTC")),
                        *((f, pa.float64()) for f in FIELDS)])
    table = pa.table(
        {"device_id": [r.device_id for r in readings], "ts": [r.ts_ms for r in readings],
         **{f: [getattr(r, f) for r in readings] for f in FIELDS}},
        schema=schema,
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", compression_level=9, use_dictionary=["device_id"],
                   column_encoding={"ts": "DELTA_BINARY_PACKED", **dict.fromkeys(FIELDS, "BYTE_STREAM_SPLIT")},
                   row_group_size=1_000_000)
    return bytes(sink.getvalue().to_pybytes())
