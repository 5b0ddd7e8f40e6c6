"""SQL over a local data directory with DuckDB: views ``readings`` (the archive), ``minutes`` and ``days``
(the store's rollups).

The archive's day files are scanned through a pyarrow dataset and the store's rollups are read once into
Arrow tables, so the connection is locked down (no file system access, configuration locked) before any
user query runs: a query can read these views and nothing else, and can change nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from energymon.adapters.columnar import DAY_FILE, FIELDS, decode_file
from energymon.domain.reading import format_ts

if TYPE_CHECKING:
    from collections.abc import Callable

    import duckdb

    from energymon.adapters.columnar import ArchiveProblem
    from energymon.adapters.local.archive import FolderArchive
    from energymon.adapters.local.store import SqliteStore

__all__ = ["SqlResult", "archive_connection", "run_query"]

_MINUTES = ("SELECT device, minute, import_mwh, export_mwh, peak_w, samples, anomalies, gap, hour, day, month "
            "FROM minutes")
_DAYS = "SELECT device, day, month, import_mwh, export_mwh, peak_w, samples, gap_minutes FROM days"


def _schema() -> Any:
    import pyarrow as pa

    return pa.schema([("device_id", pa.string()), ("ts", pa.timestamp("ms", tz="UTC")),
                      *((f, pa.float64()) for f in FIELDS), ("date", pa.string())])


def _batch_table(archive: FolderArchive, on_problem: Callable[[ArchiveProblem], None]) -> Any:
    """The readings still in per-batch files (today's, or days not compacted yet), as one Arrow table."""
    import pyarrow as pa

    rows: dict[str, list[Any]] = {name: [] for name in ("device_id", "ts", *FIELDS, "date")}
    for path in archive.files():
        if path.name == DAY_FILE:
            continue
        decoded = decode_file(str(path.relative_to(archive.root)), path.read_bytes())
        if decoded.problem is not None:
            on_problem(decoded.problem)
            continue
        for r in decoded.readings:
            rows["device_id"].append(r.device_id)
            rows["ts"].append(r.ts_ms)
            for f in FIELDS:
                rows[f].append(getattr(r, f))
            rows["date"].append(format_ts(r.ts_ms)[:10])
    return pa.table(rows, schema=_schema())


def archive_connection(store: SqliteStore, archive: FolderArchive,
                       on_problem: Callable[[ArchiveProblem], None]) -> duckdb.DuckDBPyConnection:
    import duckdb
    import pyarrow as pa
    import pyarrow.dataset as ds

    con = duckdb.connect(":memory:")
    day_files = [f for f in archive.files() if f.name == DAY_FILE]
    batches = _batch_table(archive, on_problem)
    tables = [batches]
    if day_files:
        partitioning = ds.partitioning(pa.schema([("date", pa.string())]), flavor="hive")
        # days/date=... (and day files of the earlier layout, raw/date=..., until the next compaction moves them)
        datasets = [ds.dataset([str(f) for f in day_files if f.parent.parent == base], format="parquet",
                               partitioning=partitioning, partition_base_dir=str(base))
                    for base in sorted({f.parent.parent for f in day_files})]
        con.register("_day_files", ds.dataset(datasets))
        con.register("_batch_files", batches)
        con.execute("CREATE VIEW readings AS SELECT DISTINCT device_id, ts, power_w, energy_wh, export_wh, "
                    "voltage_v, current_a, date FROM (SELECT * FROM _day_files UNION ALL BY NAME "
                    "SELECT * FROM _batch_files)")
    else:
        con.register("_batch_files", tables[0])
        con.execute("CREATE VIEW readings AS SELECT DISTINCT * FROM _batch_files")
    sqlite = store.db.connection()
    con.register("_minutes", _rows_table(sqlite.execute(_MINUTES)))
    con.register("_days", _rows_table(sqlite.execute(_DAYS)))
    con.execute("CREATE VIEW minutes AS SELECT device, make_timestamptz(minute * 1000) AS minute, import_mwh, "
                "export_mwh, peak_w, samples, anomalies, gap, make_timestamptz(hour * 1000) AS hour, day, month "
                "FROM _minutes")
    con.execute("CREATE VIEW days AS SELECT * FROM _days")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def _rows_table(cursor: Any) -> Any:
    import pyarrow as pa

    names = [d[0] for d in cursor.description]
    rows = cursor.fetchall()
    return pa.table({name: [row[i] for row in rows] for i, name in enumerate(names)})


class SqlResult:
    def __init__(self, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        self.columns = columns
        self.rows = rows


def run_query(con: duckdb.DuckDBPyConnection, query: str) -> SqlResult:
    """The query's columns and rows; DuckDB's own error (``duckdb.Error``) when it is not valid."""
    relation = con.sql(query)
    if relation is None:  # a statement without a result (SET, CREATE ... in memory)
        return SqlResult([], [])
    return SqlResult(list(relation.columns), relation.fetchall())
