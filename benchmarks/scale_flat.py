"""Does a batch cost more in a store that already holds weeks of data?
``PYTHONPATH=src python -m benchmarks.scale_flat [--devices 100] [--history-days 30] [--hours 1]``.

``benchmarks.scale`` answers it by running the whole period through the processor, which at 100 devices × 30
days is 259 M readings: hours of processing. This benchmark writes the history directly instead — for every
device HISTORY_DAYS of 1 Hz readings (power + counter) with their minute, hour, day and month rows, as the
processor would leave them, in key order with one ``executemany`` per device — and then sends the **same**
batches (the fleet's shape: 100 records, every device's next 10 s, 1,000 readings) to two processors in turn,
batch by batch: one on that full store, one on an empty store. Interleaving makes both see the same machine
load; the figure is readings per CPU-second of this process for each, and their ratio.

The history is synthetic (a steady 360 W, a counter rising 0.1 Wh a second); what matters for the cost of a
batch is the size and shape of the B-trees it writes into, which this reproduces. The measured readings
continue each device's counter, so the first batch is not a reset.
"""

from __future__ import annotations

import argparse
import re
import sqlite3
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.scale import DAY_MS, SAMPLES, TZ, _batch, _store_size
from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.packed_minutes import MinuteReadings
from energymon.adapters.local.store import SqliteStore
from energymon.domain.simulation import Apartment
from energymon.domain.timebuckets import local_keys, zone
from energymon.processing import Processor, ZoneResolver

_HOUR_MS = 3_600_000
_COUNTER_START = 1_000_000.0
_WH_PER_S = 0.1


def _fill(store: SqliteStore, devices: list[str], start_ms: int, days: float) -> None:
    """``days`` of history before ``start_ms`` per device: readings, minutes, and the rollups above them."""
    tz = zone(TZ)
    seconds = int(days * 1440) * 60  # whole minutes
    first = start_ms - seconds * 1000
    hours = range(first - first % _HOUR_MS, start_ms, _HOUR_MS)
    labels = {h: local_keys(h, tz) for h in hours}  # Berlin's hours are UTC hours: one label per hour
    con = store.db.connection()
    offsets = list(range(0, 60_000, 1000))
    power = [360.0 + i % 7 for i in range(60)]
    for d, device in enumerate(devices):
        base = _COUNTER_START + d
        with store.db.transaction():
            samples, minutes = [], []
            for m in range(first, start_ms, 60_000):  # ``first`` is on a minute: whole minutes of 60 readings
                i = (m - first) // 1000
                energy = [base + (i + k) * _WH_PER_S for k in range(60)]
                samples.append((device, m, 60, 60, MinuteReadings(m, offsets, [power, energy, None, None, None]).pack()))
                keys = labels[m - m % _HOUR_MS]
                minutes.append((device, m, 6_000, 0, 366.0, 60, 0, keys.hour_ms, keys.day, keys.month, 0))
            con.executemany("INSERT INTO samples VALUES (?, ?, ?, ?, ?)", samples)
            con.executemany("INSERT INTO minutes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", minutes)
            con.execute("INSERT INTO devices VALUES (?, ?, ?)", (device, seconds, start_ms - 1000))
        print(f"    history of {device}: {seconds:,} readings, {len(minutes):,} minutes "
              f"(store {_store_size(store.db.path.parent) / 2**30:.1f} GiB, {time.strftime('%H:%M:%S')})", flush=True)
    sums = "SUM(import_mwh), SUM(export_mwh), MAX(peak_w), SUM(samples)"
    with store.db.transaction():
        con.execute(f"INSERT INTO hours SELECT device, hour, {sums}, SUM(gap) FROM minutes GROUP BY device, hour")
        con.execute(f"INSERT INTO days SELECT device, day, month, {sums}, SUM(gap) FROM minutes GROUP BY device, day")
        con.execute(f"INSERT INTO months SELECT device, month, {sums}, SUM(gap) FROM minutes GROUP BY device, month")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class _Timed(sqlite3.Connection):
    """A connection that adds up the time of each statement, by the store it belongs to (``--statements``)."""

    totals: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])

    def _timed(self, method: Any, sql: str, *args: Any) -> Any:
        began = time.perf_counter()
        try:
            return method(sql, *args)
        finally:
            entry = self.totals["full" if "/full/" in self.path else "empty", re.sub(r"(\?, )+\?", "?…", sql)[:110]]
            entry[0] += time.perf_counter() - began
            entry[1] += 1

    def execute(self, sql: str, *args: Any) -> Any:  # type: ignore[override]
        return self._timed(super().execute, sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:  # type: ignore[override]
        return self._timed(super().executemany, sql, *args)


def _time_statements() -> None:
    connect = sqlite3.connect

    def timed(path: Any, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        con = connect(path, *args, factory=_Timed, **kwargs)
        con.path = str(path)  # type: ignore[attr-defined]
        return con

    sqlite3.connect = timed  # type: ignore[assignment]


def _print_statements(batches: int) -> None:
    print(f"statements, µs per batch (full store / empty store), {batches:,} batches each:")
    rows = {sql for _, sql in _Timed.totals}
    for sql in sorted(rows, key=lambda q: -_Timed.totals["full", q][0]):
        full, empty = _Timed.totals["full", sql], _Timed.totals["empty", sql]
        if full[1] or empty[1]:
            print(f"    {full[0] / batches * 1e6:9,.0f} {empty[0] / batches * 1e6:9,.0f}  ({full[1] // batches:>3}×)  {sql}")


def _processor(root: Path) -> Processor:
    return Processor(SqliteStore(root / "store.db"), FolderArchive(root / "archive"),
                     SqliteDeadLetters(root / "dl.db"), PrometheusMetrics(), ZoneResolver(TZ))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--history-days", type=float, default=30.0)
    parser.add_argument("--hours", type=float, default=1.0, help="data sent to both stores after the history")
    parser.add_argument("--dir", help="keep the data here (default: a temporary directory)")
    parser.add_argument("--statements", action="store_true", help="time every SQL statement in both stores")
    args = parser.parse_args()
    if args.devices < 1 or args.history_days <= 0 or args.hours <= 0:
        raise SystemExit("--devices, --history-days and --hours must be positive")
    tmp = None if args.dir else tempfile.TemporaryDirectory(prefix="energymon-flat-")
    root = Path(args.dir or tmp.name)  # type: ignore[union-attr]
    now = int(time.time() * 1000)
    start = now - now % DAY_MS - int(args.hours * _HOUR_MS) - DAY_MS
    devices = [f"apt-{d:03d}" for d in range(args.devices)]
    seconds = int(args.history_days * 1440) * 60
    print(f"history: {args.devices} devices × {args.history_days:g} days = {args.devices * seconds:,} readings",
          flush=True)
    t = time.perf_counter()
    full, empty = _processor(root / "full"), _processor(root / "empty")
    _fill(full.store, devices, start, args.history_days)  # type: ignore[arg-type]
    print(f"history written in {time.perf_counter() - t:,.0f} s; store {_store_size(root / 'full') / 2**30:.2f} GiB")

    last = _COUNTER_START + (seconds - 1) * _WH_PER_S
    fleets = {name: [Apartment(device, 1000 + d, TZ, energy_wh=last + d + _WH_PER_S)
                     for d, device in enumerate(devices)] for name in ("full", "empty")}
    steps = int(args.hours * 3_600 / SAMPLES)
    if args.statements:
        _time_statements()
        full, empty = _processor(root / "full"), _processor(root / "empty")
    cpu = {"full": 0.0, "empty": 0.0}
    for step in range(steps):
        for name, processor in (("full", full), ("empty", empty)) if step % 2 else (("empty", empty), ("full", full)):
            event = _batch(fleets[name], start, step, step * args.devices)
            began = time.process_time()
            response = processor.handle(event)
            cpu[name] += time.process_time() - began
            if response["batchItemFailures"]:
                raise SystemExit(f"{name}: failures in batch {step}: {response['batchItemFailures'][:3]}")
    n = steps * SAMPLES * args.devices
    for name, processor in (("full", full), ("empty", empty)):
        stored = sum(d.readings for d in processor.store.devices())  # type: ignore[attr-defined]
        expected = n + (args.devices * seconds if name == "full" else 0)
        if stored != expected:
            raise SystemExit(f"{name}: stored {stored:,} readings, expected {expected:,}")
    rate = {name: n / seconds_ for name, seconds_ in cpu.items()}
    print(f"the same {n:,} readings ({steps:,} batches of {args.devices} records × {SAMPLES} samples), "
          f"batches alternating between the stores:")
    print(f"    empty store:                          {rate['empty']:10,.0f} readings per CPU-second")
    print(f"    store with {args.history_days:g} days of history ({_store_size(root / 'full') / 2**30:.1f} GiB): "
          f"{rate['full']:10,.0f} readings per CPU-second ({rate['full'] / rate['empty']:.2f} of the empty store's)")
    if args.statements:
        _print_statements(steps)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
