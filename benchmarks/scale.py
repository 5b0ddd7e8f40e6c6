"""Scale that stays flat: ``PYTHONPATH=src python -m benchmarks.scale [--devices 100] [--days 30]``.

DEVICES simulated apartments (domain/simulation.py) at 1 Hz for DAYS days through the real processor, with the
SQLite store, folder archive and dead letters on a temporary directory, in the local runtime's batch shape at
that fleet size: each Kinesis batch is 100 records, every device's next 10-sample message (10 s of data per
device per batch), so a batch writes 1,000 readings to 100 devices. Generating the messages is not timed.

Prints, with the same run as its own baseline:

- throughput in each tenth of the run, by the clock and per CPU-second of this process (on a shared machine
  the clock follows the other processes' load; the first tenth against the last: it must not fall as the
  store grows);
- bytes per reading on disk before and after retention (``maintain`` with every reading past the retention:
  rollups + 69-odd anchor readings per device in the store, daily zstd Parquet in the archive);
- p50/p95 of one device's year of daily bars among DEVICES devices (the read port's ``periods``), after a year
  of hour/day/month rollups for every device has been written beside the run's own (hours rebuilt from the
  run's minutes would take the year's 525,600 minutes per device; the daily query reads only ``days``).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.maintenance import maintain
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.store import SqliteStore
from energymon.domain.reading import format_ts
from energymon.domain.simulation import Apartment
from energymon.ports import StreamRecord
from energymon.processing import Processor, ZoneResolver

DAY_MS = 86_400_000
SAMPLES = 10
TZ = "Europe/Berlin"


def _size(path: Path) -> int:
    if not path.exists():
        return 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def _store_size(root: Path) -> int:
    return sum(_size(root / name) for name in ("store.db", "store.db-wal", "store.db-shm"))


def _batch(apartments: list[Apartment], start_ms: int, step: int, seq: int) -> dict[str, object]:
    records = []
    t0 = start_ms + step * SAMPLES * 1000
    for n, apt in enumerate(apartments):
        samples = []
        for i in range(SAMPLES):
            r = apt.sample(t0 + i * 1000)
            samples.append({"ts": format_ts(r.ts_ms), "power_w": r.power_w, "energy_wh": r.energy_wh})
        body = {"v": 1, "device_id": apt.device_id, "seq": step, "samples": samples,
                "topic_device_id": apt.device_id}
        records.append(StreamRecord("shardId-000000000000", f"{seq + n:020d}", apt.device_id, orjson.dumps(body),
                                    (t0 + SAMPLES * 1000) / 1000))
    return kinesis_event(records, "arn:aws:kinesis:local:000000000000:stream/scale")


def _seed_year(store: SqliteStore, devices: list[str], end_day_ms: int) -> None:
    """A year of hour, day and month rows per device (what 525,600 minutes a device would roll up to)."""
    con = store.db.connection()
    with store.db.transaction():
        for d, device in enumerate(devices):
            hours, days, months = [], [], {}
            for day in range(365):
                day_ms = end_day_ms - (366 - day) * DAY_MS
                label = format_ts(day_ms)[:10]
                mwh = 5_000_000 + (d * 7919 + day * 104_729) % 4_000_000
                for h in range(24):
                    hours.append((device, day_ms + h * 3_600_000, mwh // 24, 0, 3000.0, 3600, 0))
                days.append((device, label, label[:7], mwh, 0, 3000.0, 86_400, 0))
                m = months.setdefault(label[:7], [0, 0])
                m[0] += mwh
                m[1] += 86_400
            con.executemany("INSERT OR IGNORE INTO hours VALUES (?, ?, ?, ?, ?, ?, ?)", hours)
            con.executemany("INSERT OR IGNORE INTO days VALUES (?, ?, ?, ?, ?, ?, ?, ?)", days)
            con.executemany("INSERT OR IGNORE INTO months VALUES (?, ?, ?, ?, ?, ?, ?)",
                            [(device, k, v[0], 0, 3000.0, v[1], 0) for k, v in months.items()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dir", help="keep the data here (default: a temporary directory)")
    args = parser.parse_args()
    tmp = None if args.dir else tempfile.TemporaryDirectory(prefix="energymon-scale-")
    root = Path(args.dir or tmp.name)  # type: ignore[union-attr]
    root.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(root / "store.db")
    archive = FolderArchive(root / "archive")
    processor = Processor(store, archive, SqliteDeadLetters(root / "dl.db"), PrometheusMetrics(), ZoneResolver(TZ))
    now = int(time.time() * 1000)
    steps = int(args.days * 86_400 / SAMPLES)
    start = now - now % DAY_MS - int(args.days * DAY_MS) - DAY_MS
    apartments = [Apartment(f"apt-{d:03d}", 1000 + d, TZ) for d in range(args.devices)]
    tenth = max(steps // 10, 1)
    busy = 0.0
    tenths: list[float] = []
    part = cpu_part = 0.0
    cpu_tenths: list[float] = []
    seq = 0
    print(f"{args.devices} devices × {args.days:g} days at 1 Hz = {steps * SAMPLES * args.devices:,} readings, "
          f"{steps:,} batches of {args.devices} records × {SAMPLES} samples", flush=True)
    for step in range(steps):
        event = _batch(apartments, start, step, seq)
        seq += args.devices
        t, cpu = time.perf_counter(), time.process_time()
        response = processor.handle(event)
        took = time.perf_counter() - t
        cpu_part += time.process_time() - cpu
        if response["batchItemFailures"]:
            raise SystemExit(f"failures in batch {step}: {response['batchItemFailures'][:3]}")
        busy += took
        part += took
        if (step + 1) % tenth == 0:
            tenths.append(tenth * SAMPLES * args.devices / part)
            cpu_tenths.append(tenth * SAMPLES * args.devices / cpu_part)
            print(f"    tenth {len(tenths):2d}: {tenths[-1]:10,.0f} readings/s, {cpu_tenths[-1]:10,.0f} per CPU-second  (store {_store_size(root) / 2**20:,.0f} "
                  f"MiB, {time.strftime('%H:%M:%S')})", flush=True)
            part = cpu_part = 0.0
    n = steps * SAMPLES * args.devices
    stored = sum(d.readings for d in store.devices())
    if stored != n:
        raise SystemExit(f"stored {stored:,} readings, expected {n:,}")
    print(f"processor: {n / busy:,.0f} readings/s over the run; first tenth {tenths[0]:,.0f}, last tenth "
          f"{tenths[-1]:,.0f} ({tenths[-1] / tenths[0]:.2f} of the first); per CPU-second (the load of other "
          f"processes left out): first {cpu_tenths[0]:,.0f}, last {cpu_tenths[-1]:,.0f} "
          f"({cpu_tenths[-1] / cpu_tenths[0]:.2f} of the first)")

    store.db.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before_store, before_archive = _store_size(root), _size(root / "archive")
    files_before = sum(1 for p in (root / "archive").rglob("*") if p.is_file())
    t = time.perf_counter()
    end_ms = start + steps * SAMPLES * 1000
    report = maintain(store, archive, 1.0, clock=lambda: (end_ms + 2 * DAY_MS) / 1000)
    maintain_s = time.perf_counter() - t
    after_store, after_archive = _store_size(root), _size(root / "archive")
    files_after = sum(1 for p in (root / "archive").rglob("*") if p.is_file())
    print(f"disk before retention: store {before_store / n:.1f} B/reading, archive {before_archive / n:.1f} "
          f"B/reading ({files_before:,} files), total {(before_store + before_archive) / n:.1f} B/reading")
    print(f"disk after retention + compaction ({maintain_s:.0f} s): store {after_store / n:.2f} B/reading, archive "
          f"{after_archive / n:.2f} B/reading ({files_after:,} files), total {(after_store + after_archive) / n:.2f} "
          f"B/reading; purged {report.purged_readings:,}, kept {report.kept_readings:,} raw readings")

    devices = [a.device_id for a in apartments]
    _seed_year(store, devices, start - start % DAY_MS)
    year_end = end_ms + DAY_MS
    year_start = year_end - 366 * DAY_MS
    timings = []
    for q in range(args.queries):
        device = devices[(q * 37) % len(devices)]
        t = time.perf_counter()
        bars = store.periods(device, "day", year_start, year_end, TZ)
        timings.append(time.perf_counter() - t)
        if len(bars) < 365:
            raise SystemExit(f"{device}: {len(bars)} daily bars, expected at least 365")
    timings.sort()
    p50 = statistics.median(timings) * 1000
    p95 = timings[int(0.95 * len(timings)) - 1] * 1000
    print(f"one device's year of daily bars among {len(devices)} devices (read port, {args.queries} queries): "
          f"p50 {p50:.2f} ms, p95 {p95:.2f} ms")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
