"""End-to-end helpers: the real runtime as a subprocess, real publishers, and the real CLI to read back.

Every test gets its own data directory and its own broker ports, so tests never share state, and
never touch the shared Mosquitto on 1883.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest

from energymon.adapters.mqtt.broker import free_port

# A fixed, past UTC day: far from "now", so the 5-minutes-in-the-future check never fires, and a
# query for that one day holds everything the test sent.
# Yesterday, UTC: readings must be recent (the pipeline refuses readings weeks older than their arrival),
# and a whole past day leaves room for every test's samples without reaching into the future.
T0_MS = (int(time.time()) // 86_400 - 1) * 86_400_000
DAY = time.strftime("%Y-%m-%d", time.gmtime(T0_MS // 1000))
NEXT_DAY = time.strftime("%Y-%m-%d", time.gmtime(T0_MS // 1000 + 86_400))
E0_WH = 1_234_567.0  # the meter's counter before the first sample
STEP_WH = 0.5  # per 1 s sample = 1800 W: exact in binary, exactly 500 mWh per interval
POWER_W = 1800.0


def iso(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms // 1000)) + f".{ts_ms % 1000:03d}Z"


def message(device: str, seq: int, samples_per_message: int = 10, *, first_index: int | None = None) -> bytes:
    """Canonical v1 message number ``seq`` (0-based) of a 1 Hz meter whose counter rises 0.5 Wh a second."""
    start = seq * samples_per_message if first_index is None else first_index
    samples = [
        {"ts": iso(T0_MS + i * 1000), "power_w": POWER_W, "energy_wh": E0_WH + i * STEP_WH}
        for i in range(start, start + samples_per_message)
    ]
    return orjson.dumps({"v": 1, "device_id": device, "seq": seq, "samples": samples})


def expected_mwh(readings: int) -> int:
    """Energy of ``readings`` consecutive samples, by hand from the counters: (last - first) Wh."""
    return round((readings - 1) * STEP_WH * 1000) if readings else 0


def topic(device: str) -> str:
    return f"energy/{device}/telemetry"


@dataclass
class Runtime:
    """``python -m energymon.runtimes.cli run`` in a subprocess, on its own data directory."""

    data_dir: Path
    args: list[str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0
    _log: Any = field(default=None, repr=False)

    def start(self, timeout_s: float = 60.0, *, wait_ready: bool = True) -> Runtime:
        """Start it and, unless ``wait_ready`` is False, wait until it has written its runtime.json."""
        self.runs += 1
        self._log = open(self.log_path.with_suffix(f".{self.runs}.log"), "wb")  # noqa: SIM115
        cmd = [sys.executable, "-m", "energymon.runtimes.cli", "run", "--data-dir", str(self.data_dir), "--no-live",
               *self.args]
        env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="200")
        self.process = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        if not wait_ready:
            return self
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"runtime exited with {self.process.returncode}:\n{self.output()}")
            info = self.info()
            if info and info.get("pid") == self.process.pid:
                return self
            time.sleep(0.1)
        raise AssertionError(f"runtime not ready after {timeout_s} s:\n{self.output()}")

    def info(self) -> dict[str, Any] | None:
        path = self.data_dir / "runtime.json"
        try:
            return json.loads(path.read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return None

    @property
    def broker_port(self) -> int:
        info = self.info()
        assert info, "runtime.json is missing"
        return int(info["broker_url"].rsplit(":", 1)[1])

    def output(self) -> str:
        if self._log:
            self._log.flush()
        return self.log_path.with_suffix(f".{self.runs}.log").read_text(errors="replace")

    def children(self) -> list[int]:
        assert self.process is not None
        pids: list[int] = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                pids += [int(p) for p in (task / "children").read_text().split()]
        return pids

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 90.0, *, group: bool = False) -> str:
        """A clean stop (SIGINT or SIGTERM): returns the output, after checking the exit was clean.

        ``group=True`` signals the whole process group, as a terminal's Ctrl-C does.
        """
        assert self.process is not None
        if group:
            os.killpg(self.process.pid, sig)
        else:
            self.process.send_signal(sig)
        try:
            rc = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"runtime did not stop within {timeout_s} s:\n{self.output()}") from None
        out = self.output()
        assert rc == 0, f"runtime exited with {rc}:\n{out}"
        assert "energymon: stopped; stream lag 0" in out, out
        return out

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed — a power-cut for the process."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def close(self) -> None:
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        if self._log:
            self._log.close()


@pytest.fixture
def runtime_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    made: list[Runtime] = []

    def make(*args: str, data_dir: Path | None = None) -> Runtime:
        rt = Runtime(data_dir or tmp_path / "data", list(args), tmp_path / f"runtime{len(made)}")
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.close()


def embedded_args(port: int | None = None) -> list[str]:
    return ["--simulate", "0", "--port", str(port or free_port()), "--batching-window", "1"]


class Publisher:
    """A real paho client publishing with QoS 1 and waiting for each PUBACK."""

    def __init__(self, port: int, client_id: str = "e2e-publisher") -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        self.client.max_inflight_messages_set(50)
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()

    def publish(self, topic_name: str, payload: bytes, timeout_s: float = 30.0) -> None:
        info = self.client.publish(topic_name, payload, qos=1)
        info.wait_for_publish(timeout_s)
        assert info.is_published(), f"no PUBACK for {topic_name}"

    def publish_many(self, items: list[tuple[str, bytes]], timeout_s: float = 60.0) -> None:
        infos = [self.client.publish(t, p, qos=1) for t, p in items]
        for info in infos:
            info.wait_for_publish(timeout_s)
            assert info.is_published()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def mosquitto_pub(port: int, topic_name: str, payloads: list[bytes]) -> None:
    """Debian's ``mosquitto_pub``: one line of stdin per QoS 1 message (``-l``)."""
    for payload in payloads:
        assert b"\n" not in payload
    subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic_name, "-l"],
        input=b"\n".join(payloads) + b"\n", check=True, timeout=60,
    )


def mosquitto_pub_file(port: int, topic_name: str, path: Path) -> None:
    subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic_name, "-f", str(path)],
        check=True, timeout=60,
    )


def query_day(data_dir: Path, device: str, resolution: str = "day") -> dict[str, Any]:
    """What a user sees: ``energymon query --format json`` for the test day."""
    out = subprocess.run(
        [sys.executable, "-m", "energymon.runtimes.cli", "query", "--device", device, "--data-dir", str(data_dir),
         "--from", DAY, "--to", NEXT_DAY, "--resolution", resolution, "--format", "json"],
        capture_output=True, check=True, timeout=60,
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def totals(data_dir: Path, device: str) -> tuple[int, int]:
    """(stored mWh, raw readings counted in the rollups) for the test day, through the CLI."""
    result = query_day(data_dir, device)
    mwh = round(sum(p["import_kwh"] for p in result["periods"]) * 1_000_000)
    samples = sum(p["samples"] for p in result["periods"])
    return mwh, samples


def stored_readings(data_dir: Path, device: str) -> int:
    """Raw readings in the store, read directly (what the runtime has committed so far)."""
    path = data_dir / "store.db"
    if not path.exists():
        return 0
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        row = con.execute("SELECT COALESCE(SUM(count), 0) FROM samples WHERE device=?", (device,)).fetchone()
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()
    return int(row[0])


def dead_letters(data_dir: Path) -> list[dict[str, Any]]:
    path = data_dir / "deadletters.db"
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute("SELECT stage, code, reason, source, length(payload), detail FROM dead_letters ORDER BY id")
        return [dict(zip(("stage", "code", "reason", "source", "size", "detail"), (*r[:5], json.loads(r[5])),
                         strict=True)) for r in rows]
    finally:
        con.close()


def wait_until(predicate: Any, timeout_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Background(threading.Thread):
    """Run a publishing loop beside the test, re-raising its error on join."""

    def __init__(self, target: Any) -> None:
        super().__init__(daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            self.error = exc

    def result(self, timeout_s: float = 120.0) -> None:
        self.join(timeout_s)
        assert not self.is_alive(), "background publisher did not finish"
        if self.error:
            raise self.error


HELPERS = SimpleNamespace(
    DAY=DAY, T0_MS=T0_MS, iso=iso, message=message, expected_mwh=expected_mwh, topic=topic, Runtime=Runtime,
    embedded_args=embedded_args, Publisher=Publisher, mosquitto_pub=mosquitto_pub,
    mosquitto_pub_file=mosquitto_pub_file, query_day=query_day, totals=totals, stored_readings=stored_readings,
    dead_letters=dead_letters, wait_until=wait_until, pid_alive=pid_alive, Background=Background,
)


@pytest.fixture
def h() -> SimpleNamespace:
    """The helpers above (test modules cannot import a conftest by name: tests/ has no packages)."""
    return HELPERS
