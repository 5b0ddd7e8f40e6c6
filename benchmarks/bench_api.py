"""API benchmark: a year of minute data for one device in SQLite, served over real HTTP.

Run with ``python -m benchmarks.bench_api``. Prints p50/p95 for the daily bars of a year and a 24-hour
power chart (per-minute), and the time for one reading to reach 50 SSE clients.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from energymon.adapters.local.store import SqliteStore
from energymon.api import ApiOptions, WebServer, create_app
from energymon.domain.reading import Reading
from energymon.domain.timebuckets import local_keys

TZ = "Europe/Berlin"
DEVICE = "apt-1"
CLIENTS = 50


def build_store(path: Path) -> tuple[SqliteStore, int]:
    store = SqliteStore(path)
    tz = ZoneInfo(TZ)
    start = int(datetime(2025, 1, 1, tzinfo=tz).timestamp() * 1000)
    end = int(datetime(2026, 1, 1, tzinfo=tz).timestamp() * 1000)
    t0 = time.perf_counter()
    # Bulk load (bench only): minute rows with their local keys, then the rollups in three GROUP BYs,
    # the same sums SqliteStore.replace_minutes keeps (it is built for small incremental batches).
    rows = []
    for m in range(start, end, 60_000):
        keys = local_keys(m, tz)
        rows.append((DEVICE, m, 2000 + (m // 60_000) % 500, 0, 300.0, 6, 0, keys.hour_ms, keys.day, keys.month))
    sums = "SUM(import_mwh), SUM(export_mwh), MAX(peak_w), SUM(samples)"
    with store.db.transaction() as con:
        # Columns named: the tables gained gap columns (defaulting to 0) since this bench was written.
        measures = "import_mwh, export_mwh, peak_w, samples"
        con.executemany(f"INSERT INTO minutes (device, minute, {measures}, anomalies, hour, day, month) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute(f"INSERT INTO hours (device, hour, {measures}) "
                    f"SELECT device, hour, {sums} FROM minutes GROUP BY device, hour")
        con.execute(f"INSERT INTO days (device, day, month, {measures}) "
                    f"SELECT device, day, MIN(month), {sums} FROM minutes GROUP BY device, day")
        con.execute(f"INSERT INTO months (device, month, {measures}) "
                    f"SELECT device, month, {sums} FROM days GROUP BY device, month")
    store.add_readings(DEVICE, [Reading(DEVICE, end - 1000, power_w=400.0, energy_wh=1.0)])
    print(f"seeded {(end - start) // 60_000:,} minutes in {time.perf_counter() - t0:.1f} s")
    return store, end


def timed(client: httpx.Client, path: str, params: dict[str, str], n: int = 200) -> list[float]:
    for _ in range(10):
        client.get(path, params=params).raise_for_status()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        client.get(path, params=params).raise_for_status()
        out.append((time.perf_counter() - t) * 1000)
    return out


def report(name: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(f"{name:<42} p50 {statistics.median(samples):6.1f} ms   p95 {p95:6.1f} ms   (n={len(samples)})")


async def fan_out(url: str, store: SqliteStore, now_ms: int) -> None:
    latencies: list[float] = []
    ready = asyncio.Event()
    connected = 0

    async def client(c: httpx.AsyncClient, ts_holder: dict[str, float]) -> None:
        nonlocal connected
        async with c.stream("GET", f"{url}api/live", params={"device": DEVICE}) as response:
            async for line in response.aiter_lines():
                if line.startswith("event: hello"):
                    connected += 1
                    if connected == CLIENTS:
                        ready.set()
                elif line.startswith("data: ") and f"[{now_ms + 5000}," in line:
                    latencies.append((time.perf_counter() - ts_holder["sent"]) * 1000)
                    return

    holder: dict[str, float] = {}
    limits = httpx.Limits(max_connections=CLIENTS + 5)
    async with httpx.AsyncClient(timeout=30, limits=limits) as c:
        tasks = [asyncio.create_task(client(c, holder)) for _ in range(CLIENTS)]
        await asyncio.wait_for(ready.wait(), 30)
        await asyncio.sleep(1.5)  # let the feed see the current reading first
        holder["sent"] = time.perf_counter()
        await asyncio.to_thread(store.add_readings, DEVICE, [Reading(DEVICE, now_ms + 5000, power_w=999.0)])
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    latencies.sort()
    print(f"SSE fan-out to {CLIENTS} clients: a new reading reached all of them; "
          f"first {latencies[0]:.0f} ms, median {statistics.median(latencies):.0f} ms, last {latencies[-1]:.0f} ms "
          "(tick every 1 s, so up to ~1 s is the polling interval)")


def main() -> None:
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, SQLite store")
    with tempfile.TemporaryDirectory() as tmp:
        store, end = build_store(Path(tmp) / "store.db")
        now = end / 1000
        app = create_app(store, ApiOptions(lambda _d: TZ, clock=lambda: now))
        web = WebServer(app, "127.0.0.1", 0)
        web.start()
        try:
            with httpx.Client(base_url=web.url) as client:
                year = timed(client, f"/api/devices/{DEVICE}/energy",
                             {"period": "day", "from": "2025-01-01", "to": "2026-01-01"})
                body = client.get(f"/api/devices/{DEVICE}/energy",
                                  params={"period": "day", "from": "2025-01-01", "to": "2026-01-01"}).json()
                assert len(body["periods"]) == 365 and body["gaps"] == 0
                report("daily bars for a year (365 bars)", year)
                day = timed(client, f"/api/devices/{DEVICE}/power",
                            {"resolution": "minute", "from": "2025-12-31", "to": "2026-01-01"})
                report("24-hour power chart (1,440 minute points)", day)
                hours = timed(client, f"/api/devices/{DEVICE}/energy",
                              {"period": "hour", "from": "2025-12-01", "to": "2026-01-01"}, n=100)
                report("hourly bars for a month (744 bars)", hours)
            asyncio.run(fan_out(web.url, store, end))
        finally:
            web.stop()


if __name__ == "__main__":
    main()
