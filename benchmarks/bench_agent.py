"""Device agent benchmarks: CPU time per 1,000 readings, and how fast a 1-hour backlog drains.

Run on purpose: ``python -m benchmarks.bench_agent``. Both figures go through the real path: the SQLite
buffer (synchronous=FULL, as shipped), message building, paho over mutual TLS to a local Mosquitto
(``require_certificate``, per-device ACL) and a PUBACK per message.

1. CPU per 1,000 readings: the simulator sped up, 10 simulated seconds of samples per message; process CPU time (user + system) of the agent, minus an idle baseline, per 1,000.
   Paced (about one commit per reading, as at 1 Hz) and bulk.
2. Drain: 3,600 readings (1 h at 1 Hz) already buffered when the broker comes back; time from connect to
   the last PUBACK, with the default drain settings (600 samples/message, 5 messages/s) and with IoT
   Core's ceiling (3,600 samples/message, 100 publishes/s).
"""

from __future__ import annotations

import os
import platform
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from energymon.adapters.mqtt.broker import free_port
from energymon.agent import Buffer, DeviceAgent, SimulatorSource, load_agent_config
from energymon.deploy.certs import ensure_ca, ensure_device
from energymon.domain.simulation import Apartment


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class Mosquitto:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        certs = workdir / "certs"
        self.paths = ensure_ca(certs)
        self.device = ensure_device(self.paths, "apt-1")
        certs.chmod(0o755)
        for f in certs.iterdir():
            f.chmod(0o644)
        (workdir / "acl").write_text("pattern readwrite energy/%u/#\n")
        (workdir / "mosquitto.conf").write_text(
            f"listener {self.port} 127.0.0.1\npersistence false\nlog_dest none\n"
            f"cafile {self.paths.ca_cert}\ncertfile {self.paths.server_cert}\nkeyfile {self.paths.server_key}\n"
            f"require_certificate true\nuse_identity_as_username true\nacl_file {workdir / 'acl'}\n"
        )
        self.process = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c",
                                         str(workdir / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _config(broker: Mosquitto, buffer: Path, **extra: object) -> object:
    return load_agent_config(
        None, device_id="apt-1", broker_url=f"mqtts://127.0.0.1:{broker.port}", ca_file=broker.paths.ca_cert,
        cert_file=broker.device.cert, key_file=broker.device.key, buffer_path=buffer, status_interval_s=3600,
        **extra,
    )


def bench_cpu(broker: Mosquitto, workdir: Path, readings: int, speed: float) -> float:
    # 10 simulated seconds per message, as the default batching does at 1 Hz.
    cfg = _config(broker, workdir / f"cpu-{speed}.db", sim_speed=speed, batch_interval_s=10 / speed)
    agent = DeviceAgent(cfg, SimulatorSource("apt-1", speed=speed))  # type: ignore[arg-type]
    seconds = readings / speed
    start = _cpu()
    agent.run(duration_s=seconds)
    used = _cpu() - start
    # Baseline: the same loop with nothing to do (no samples), to separate per-reading cost from polling.
    idle_cfg = _config(broker, workdir / "idle.db", sim_speed=0.001)
    idle = DeviceAgent(idle_cfg, SimulatorSource("apt-1", speed=0.001))  # type: ignore[arg-type]
    start = _cpu()
    idle.run(duration_s=seconds)
    baseline = _cpu() - start
    print(f"  {agent.readings_buffered} readings live in {seconds:.0f} s wall, {agent.messages_acked} messages; "
          f"CPU {used:.2f} s, idle loop {baseline:.2f} s")
    return (used - baseline) / agent.readings_buffered * 1000


def bench_drain(broker: Mosquitto, workdir: Path, name: str, **settings: object) -> float:
    path = workdir / f"drain-{name}.db"
    buffer = Buffer(path)
    apartment = Apartment("apt-1", 7)
    start_ms = int(time.time() * 1000) - 3_600_000
    buffer.append(apartment.samples(start_ms, 3600))
    buffer.close()
    cfg = _config(broker, path, sim_speed=0.001, **settings)
    agent = DeviceAgent(cfg, SimulatorSource("apt-1", speed=0.001))  # type: ignore[arg-type]
    t0 = time.perf_counter()
    done_at = 0.0
    agent.source.start()
    while agent.readings_acked < 3600 and time.perf_counter() - t0 < 120:
        agent.step()
    done_at = time.perf_counter() - t0
    agent.stop()
    agent.transport.close()
    agent.buffer.close()
    print(f"  {name}: 3600 readings in {agent.messages_acked} messages, {done_at:.2f} s "
          f"(includes the TLS connect)")
    return 3600 / done_at


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-agent-"))
    workdir.chmod(0o755)
    broker = Mosquitto(workdir)
    try:
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.processor() or platform.platform()}, "
              f"Python {platform.python_version()}")
        print("agent CPU per 1,000 readings (simulator, 10 s batches, mTLS Mosquitto, SQLite FULL sync):")
        paced = bench_cpu(broker, workdir, 3_000, 100.0)
        print(f"  => paced (100 readings/s, about one SQLite commit per reading, 10 per message): "
              f"{paced * 1000:.1f} ms CPU per 1,000 readings")
        bulk = bench_cpu(broker, workdir, 20_000, 2_000.0)
        print(f"  => bulk (2,000 readings/s, many per commit and per message): {bulk * 1000:.1f} ms per 1,000")
        print("drain of a 1-hour backlog (3,600 readings):")
        default = bench_drain(broker, workdir, "default (600/msg, 5 msg/s)")
        ceiling = bench_drain(broker, workdir, "IoT ceiling (3600/msg, 100 msg/s)", drain_batch=3600,
                              drain_rate=100.0, max_publish_rate=100.0)
        print(f"  => {default:,.0f} readings/s with defaults, {ceiling:,.0f} readings/s at the ceiling")
    finally:
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
