"""(b) End to end: publisher process → broker → bridge → stream → poller → processor → SQLite.

10 samples per message, publishers in a separate process, the runtime's own composition root
(LocalRuntime) in this process. Two rows: the embedded amqtt broker and a private Mosquitto.
Sustained readings/s = readings stored / (last stored − first published); latency = stored − published,
per message, taken when the handler returns for the batch that holds it.

Baseline in the same run: the publisher's own rate to the broker (its PUBACK rate), which bounds what the
pipeline can receive.
"""

from __future__ import annotations

import base64
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from energymon.adapters.mqtt.broker import free_port
from energymon.config import Settings
from energymon.domain.reading import format_ts
from energymon.runtimes.local import LocalRuntime

SAMPLES = 10


def _publisher(port: int, devices: int, messages: int, rate: float, out: Any) -> None:
    """Publish ``messages`` canonical messages round-robin over ``devices`` at ``rate`` msg/s (0: flat out)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-publisher", protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port, keepalive=60)
    client.loop_start()
    start_ms = (int(time.time()) - 86_400) * 1000
    counters = [1_000_000.0 + d for d in range(devices)]
    published: list[tuple[str, int, float]] = []
    infos = []
    started = time.time()
    for n in range(messages):
        if rate:
            due = started + n / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
        d = n % devices
        seq = n // devices
        samples = []
        for i in range(SAMPLES):
            counters[d] += 0.1
            samples.append({"ts": format_ts(start_ms + (seq * SAMPLES + i) * 1000), "power_w": 360.0,
                            "energy_wh": round(counters[d], 3)})
        device = f"bench-{d}"
        payload = orjson.dumps({"v": 1, "device_id": device, "seq": seq, "samples": samples})
        published.append((device, seq, time.time()))
        infos.append(client.publish(f"energy/{device}/telemetry", payload, qos=1))
    for info in infos:
        info.wait_for_publish(120)
    acked = time.time()
    client.disconnect()
    client.loop_stop()
    out.put({"published": published, "started": started, "acked": acked})


class _Recorder:
    """Wraps the poller's handler: when a batch is handled, note the time for each (device, seq) in it."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.done: list[tuple[float, list[str]]] = []
        self.records = 0
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        response = self.handler(event, context)
        now = time.time()
        failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures") or []}
        data = [r["kinesis"]["data"] for r in event["Records"] if r["kinesis"]["sequenceNumber"] not in failed]
        with self.lock:
            self.done.append((now, data))
            self.records += len(data)
        return response


def _mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    # Debian defaults except: a private listener, and an unbounded queue for the bridge's session (the default
    # max_queued_messages 1000 would drop QoS 1 messages whenever the bridge lags by more than 1000).
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n")
    proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import socket

    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


def _cpu_s(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process (``/proc/<pid>/stat`` fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_one(broker: str, messages: int, rate: float, window_s: float, devices: int = 10) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="energymon-bench-") as tmp:
        root = Path(tmp)
        mosq = None
        overrides: dict[str, Any] = {"data_dir": root / "data", "simulate": 0, "batching_window_s": window_s}
        if broker == "mosquitto":
            mosq, port = _mosquitto(root)
            overrides["broker_url"] = f"mqtt://127.0.0.1:{port}"
        else:
            overrides["broker_port"] = 0
        runtime = LocalRuntime(Settings(**overrides))
        recorders = []
        for sp in runtime.poller.shard_pollers:
            sp.handler = _Recorder(sp.handler)
            recorders.append(sp.handler)
        cpu: dict[str, float] = {}
        try:
            own_before = _cpu_s(resource.getrusage(resource.RUSAGE_SELF))
            runtime.start()
            assert runtime.address is not None
            ctx = mp.get_context("spawn")
            out = ctx.Queue()
            pub = ctx.Process(target=_publisher, args=(runtime.address.port, devices, messages, rate, out))
            pub.start()
            children_before = _cpu_s(resource.getrusage(resource.RUSAGE_CHILDREN))
            result = out.get(timeout=600)
            pub.join(60)
            cpu["publisher"] = _cpu_s(resource.getrusage(resource.RUSAGE_CHILDREN)) - children_before
            deadline = time.time() + 600
            while sum(r.records for r in recorders) < messages and time.time() < deadline:
                time.sleep(0.05)
            handled = sum(r.records for r in recorders)
            # Every thread of the runtime (embedded broker included, for amqtt), start to the last batch stored.
            cpu["runtime"] = _cpu_s(resource.getrusage(resource.RUSAGE_SELF)) - own_before
            if mosq:
                cpu["mosquitto"] = _process_cpu_s(mosq.pid)
        finally:
            runtime.stop()
            if mosq:
                mosq.terminate()
                mosq.wait(10)
        stored_at: dict[tuple[str, int], float] = {}
        for rec in recorders:
            for t, datas in rec.done:
                for data in datas:
                    body = orjson.loads(base64.b64decode(data))
                    stored_at.setdefault((body["device_id"], body["seq"]), t)
        latencies = sorted(stored_at[(d, s)] - t for d, s, t in result["published"] if (d, s) in stored_at)
        first_pub = result["published"][0][2]
        last_stored = max(stored_at.values())
        readings = len(stored_at) * SAMPLES
        row = {
            "broker": broker, "messages": messages, "handled": handled, "lost": messages - len(stored_at),
            "offered_msgs_per_s": rate or None,
            "publisher_readings_per_s": messages * SAMPLES / (result["acked"] - result["started"]),
            "readings_per_s": readings / (last_stored - first_pub),
            "p50_s": statistics.median(latencies), "p99_s": latencies[int(0.99 * (len(latencies) - 1))],
            "max_s": latencies[-1], "window_s": window_s,
            # CPU seconds per 100,000 readings of each process: what a rate costs in cores, whatever the load.
            "cpu_s_per_100k": {name: seconds * 100_000 / readings for name, seconds in cpu.items()},
        }
        if rate:  # paced at the offered rate: does the pipeline keep up, and how fresh is the data?
            kept_up = row["lost"] == 0 and row["p99_s"] <= window_s + 1
            verdict = (f"keeps up with {rate * SAMPLES:,.0f} readings/s and p99 ≤ window + 1 s "
                       f"({window_s + 1:.0f} s): {'OK' if kept_up else 'MISSED'}")
            offered = f"{rate * SAMPLES:,.0f} readings/s offered"
        else:  # flat out: the sustained ceiling; latency here is queueing behind the ceiling
            verdict = f"sustained ≥ 20,000 readings/s: {'OK' if row['readings_per_s'] >= 20_000 else 'MISSED'}"
            offered = "flat out"
        print(f"(b) {broker:9s} {offered:>26s}: publisher {row['publisher_readings_per_s']:9,.0f} readings/s · "
              f"pipeline {row['readings_per_s']:9,.0f} readings/s · latency p50 {row['p50_s']:.2f} s "
              f"p99 {row['p99_s']:.2f} s max {row['max_s']:.2f} s · lost {row['lost']} · {verdict}")
        per_100k = row["cpu_s_per_100k"]
        total = sum(per_100k.values())
        print("    CPU per 100,000 readings: " + " · ".join(f"{n} {v:.2f} s" for n, v in per_100k.items())
              + f" · all {total:.2f} s: 50,000 readings/s would take {total / 2:.2f} cores, the runtime alone "
              f"{per_100k['runtime'] / 2:.2f}")
        return row
