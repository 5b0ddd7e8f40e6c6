"""/metrics benchmark: the per-device gauges (grafana/) for 10, 50 and 200 devices, each with 30 days of rollups
and a tariff, scraped over real HTTP.

Run with ``python -m benchmarks.bench_device_metrics``. Prints the first scrape (the days before today summed)
and p50/p95 of the following ones (those sums cached for five minutes; today read every time), next to
``/healthz`` on the same server as the baseline.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from energymon.adapters.local.store import SqliteStore
from energymon.api import ApiOptions, WebServer, create_app
from energymon.config import load_settings
from energymon.domain.reading import Reading
from energymon.domain.timebuckets import local_keys

TZ = "Europe/Berlin"
DAYS = 30
TARIFF = """
[tariff]
currency = "EUR"
[[tariff.periods]]
from = 2026-01-01
standing_charge_per_day = "0.40"
price_per_kwh = "0.30"
[[tariff.periods.windows]]
days = "all"
start = "23:00"
end = "07:00"
price_per_kwh = "0.15"
"""


def build_store(path: Path, devices: int, now_ms: int) -> SqliteStore:
    """Per device: one stored minute in every hour (each minute row carries a whole hour's energy) for 30 days."""
    store = SqliteStore(path)
    tz = ZoneInfo(TZ)
    start = (now_ms - DAYS * 86_400_000) // 3_600_000 * 3_600_000
    rows = []
    for d in range(devices):
        for m in range(start, now_ms - 60_000, 3_600_000):
            keys = local_keys(m, tz)
            rows.append((f"dev-{d:03d}", m, 400_000, 0, 900.0, 60, 0, keys.hour_ms, keys.day, keys.month))
    sums = "SUM(import_mwh), SUM(export_mwh), MAX(peak_w), SUM(samples)"
    columns = "import_mwh, export_mwh, peak_w, samples"
    with store.db.transaction() as con:
        con.executemany("INSERT INTO minutes (device, minute, import_mwh, export_mwh, peak_w, samples, anomalies, "
                        "hour, day, month) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        con.execute(f"INSERT INTO hours (device, hour, {columns}) SELECT device, hour, {sums} FROM minutes "
                    "GROUP BY device, hour")
        con.execute(f"INSERT INTO days (device, day, month, {columns}) SELECT device, day, MIN(month), {sums} "
                    "FROM minutes GROUP BY device, day")
        con.execute(f"INSERT INTO months (device, month, {columns}) SELECT device, month, {sums} FROM days "
                    "GROUP BY device, month")
    for d in range(devices):
        store.add_readings(f"dev-{d:03d}", [Reading(f"dev-{d:03d}", now_ms - 5_000, power_w=400.0, energy_wh=1.0)])
    return store


def timed(client: httpx.Client, path: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        client.get(path).raise_for_status()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "energymon.toml"
        config.write_text(f'timezone = "{TZ}"\n{TARIFF}')
        tariff = load_settings(config, data_dir=Path(tmp)).tariff_model()
        now_ms = int(time.time() * 1000)
        print(f"{'devices':>8} {'first scrape ms':>16} {'p50 ms':>8} {'p95 ms':>8} {'bytes':>8} {'/healthz p50 ms':>16}")
        for devices in (10, 50, 200):
            store = build_store(Path(tmp) / f"store-{devices}.db", devices, now_ms)
            web = WebServer(create_app(store, ApiOptions(lambda _d: TZ, tariff=tariff)), "127.0.0.1", 0)
            web.start()
            try:
                with httpx.Client(base_url=web.url.rstrip("/"), timeout=60) as client:
                    first = timed(client, "/metrics", 1)[0]
                    size = len(client.get("/metrics").content)
                    warm = sorted(timed(client, "/metrics", 20))
                    health = statistics.median(timed(client, "/healthz", 20))
            finally:
                web.stop()
            print(f"{devices:>8} {first:>16.1f} {statistics.median(warm):>8.1f} {warm[int(len(warm) * 0.95) - 1]:>8.1f}"
                  f" {size:>8} {health:>16.1f}")


if __name__ == "__main__":
    main()
