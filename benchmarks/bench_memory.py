"""Resident memory of the local runtime over a long run: ``python -m benchmarks.bench_memory [--minutes 30]``.

``energymon run --simulate N`` (embedded broker, bridge, stream, poller, processor, SQLite, web, and the N simulated
apartments, all in that one process) runs as a subprocess on a temporary data directory; its RSS is read from
``/proc/<pid>/status`` every ``--every`` seconds. Baseline in the same run: the RSS after the first minute (imports,
broker, first batches), against which growth is judged. Prints the series and the readings stored.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from energymon.adapters.mqtt.broker import free_port


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def stored(data_dir: Path) -> int:
    path = data_dir / "store.db"
    if not path.exists():
        return 0
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return int(con.execute("SELECT COALESCE(SUM(readings), 0) FROM devices").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--every", type=float, default=30.0)
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("energymon")
    with tempfile.TemporaryDirectory(prefix="energymon-mem-") as tmp:
        data = Path(tmp) / "data"
        cmd = [str(exe), "run", "--data-dir", str(data), "--simulate", str(args.devices), "--port", str(free_port()),
               "--web-port", str(free_port()), "--duration", str(args.minutes * 60), "--no-live"]
        env = dict(os.environ)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        started = time.time()
        series: list[tuple[float, float, int]] = []
        try:
            while proc.poll() is None:
                time.sleep(args.every)
                if proc.poll() is not None:
                    break
                row = ((time.time() - started) / 60, rss_mib(proc.pid), stored(data))
                series.append(row)
                print(f"    t={row[0]:6.1f} min  RSS {row[1]:7.1f} MiB  stored {row[2]:>10,}", flush=True)
        finally:
            if proc.poll() is None:
                proc.terminate()
            _, err = proc.communicate(timeout=60)
        if proc.returncode not in (0, None):
            print(err[-2000:])
    if not series:
        raise SystemExit("the runtime exited before the first sample")
    base = next((r for r in series if r[0] >= 1.0), series[0])
    peak = max(r[1] for r in series)
    last = series[-1]
    print(f"runtime RSS, {args.devices} simulated devices, {args.minutes:g} min: after 1 min {base[1]:.1f} MiB, "
          f"peak {peak:.1f} MiB, at the end {last[1]:.1f} MiB ({last[1] - base[1]:+.1f} MiB since minute 1), "
          f"{last[2]:,} readings stored")


if __name__ == "__main__":
    main()
