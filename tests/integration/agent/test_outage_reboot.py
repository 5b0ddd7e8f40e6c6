"""Store and forward through a broker outage and an agent crash: every reading arrives, in order per lane.

The simulator runs at 1 Hz in *simulated* time, sped up 6x, so "60 s of outage at 1 Hz" (60 readings
kept back) takes 10 s of wall time; the broker is really stopped and really restarted.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from agent_support import Pki, mtls_config, subscribe

from energymon.agent import AgentStatus, DeviceAgent, SimulatorSource, load_agent_config

pytestmark = pytest.mark.integration

SPEED = 6.0


def _ts_ms(sample: dict[str, Any]) -> int:
    from energymon.domain.reading import parse_ts

    return parse_ts(sample["ts"])


def _pending(buffer: Path) -> list[tuple[int, dict[str, Any]]]:
    with sqlite3.connect(buffer) as db:
        # The agent creates the file a moment before its table: on a loaded machine a poll can fall in between.
        if db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='pending'").fetchone() is None:
            return []
        return [(i, orjson.loads(s)) for i, s in db.execute("SELECT id, sample FROM pending ORDER BY id")]


def test_broker_outage_of_60_simulated_seconds_loses_nothing(mosquitto: Any, pki: Pki, world_dir: Path) -> None:
    # GIVEN the agent publishing 1 Hz (simulated) readings through mTLS Mosquitto, batched per simulated 6 s
    mosquitto.extra_config = mtls_config(pki, world_dir)
    mosquitto.workdir = world_dir
    address = mosquitto.start()
    down = subscribe(address.host, address.port, pki, persistent=True)
    cfg = load_agent_config(
        None, device_id="apt-1", broker_url=f"mqtts://127.0.0.1:{address.port}", ca_file=pki.paths.ca_cert,
        cert_file=pki["apt-1"].cert, key_file=pki["apt-1"].key, buffer_path=world_dir / "buffer.db",
        batch_interval_s=1.0, drain_batch=8, drain_rate=2.0, reconnect_min_s=0.3, reconnect_max_s=1.5,
        status_interval_s=0.2, sim_speed=SPEED,
    )
    statuses: list[AgentStatus] = []
    agent = DeviceAgent(cfg, SimulatorSource("apt-1", speed=SPEED), on_status=statuses.append)
    agent.start()
    time.sleep(3)
    before_outage = len(down.snapshot())
    assert before_outage > 0

    # WHEN the broker is down for 60 simulated seconds, then comes back
    mosquitto.stop()
    time.sleep(60 / SPEED)
    assert statuses[-1].state.startswith("disconnected")
    backlog_at_restart = statuses[-1].backlog
    assert backlog_at_restart >= 55
    at_restart = len(down.snapshot())  # the subscriber was cut off too: nothing arrived during the outage
    mosquitto.start()

    # THEN the backlog drains while live readings keep flowing, and every reading arrives
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (statuses[-1].state == "connected" and statuses[-1].backlog < 10
                                               and statuses[-1].readings_acked > before_outage):
        time.sleep(0.2)
    agent.stop()
    down.wait_for(lambda d: len({s["ts"] for s in d.samples()}) >= agent.readings_buffered, 15, "every reading")
    down.stop()

    messages = down.snapshot()
    samples = down.samples()
    unique = {s["ts"]: s for s in samples}
    assert len(unique) == agent.readings_buffered
    stamps = sorted(_ts_ms(s) for s in unique.values())
    assert stamps == list(range(stamps[0], stamps[0] + 1000 * len(stamps), 1000)), "a gap: a reading was lost"
    duplicates = len(samples) - len(unique)
    print(f"\noutage: backlog {backlog_at_restart} readings, {len(messages)} messages, {duplicates} duplicate samples")

    # In order per lane: rows below the reconnect's live floor are the backlog, drained oldest first;
    # live messages follow each other in order; and a live message arrived before the backlog was done.
    after = messages[at_restart:]
    floor = agent._live_floor
    backlog_msgs = [m for m in after if m["seq"] < floor]
    live_msgs = [m for m in after if m["seq"] >= floor]
    assert backlog_msgs and live_msgs
    for lane in (backlog_msgs, live_msgs):
        lane_ts = [_ts_ms(s) for m in lane for s in m["samples"]]
        assert lane_ts == sorted(lane_ts)
    last_backlog = max(i for i, m in enumerate(after) if m["seq"] < floor)
    assert any(m["seq"] >= floor for m in after[:last_backlog]), "live readings waited for the backlog"
    with sqlite3.connect(world_dir / "buffer.db") as db:
        assert db.execute("SELECT count(*) FROM pending").fetchone()[0] == 0


def _agent_process(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "energymon.runtimes.cli", "device", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def test_sigkill_mid_backlog_then_restart_loses_nothing(mosquitto: Any, pki: Pki, world_dir: Path) -> None:
    # GIVEN an agent process that built a backlog while the broker was down
    buffer = world_dir / "buffer.db"
    mosquitto.extra_config = mtls_config(pki, world_dir)
    mosquitto.workdir = world_dir
    port = mosquitto.port
    config = world_dir / "agent.toml"
    config.write_text(
        "[agent]\n"
        f'device_id = "apt-1"\nbroker_url = "mqtts://127.0.0.1:{port}"\n'
        f'ca_file = "{pki.paths.ca_cert}"\ncert_file = "{pki["apt-1"].cert}"\nkey_file = "{pki["apt-1"].key}"\n'
        f'buffer_path = "{buffer}"\nsim_speed = 20.0\nbatch_interval_s = 1.0\n'
        "drain_batch = 5\ndrain_rate = 2.0\nreconnect_min_s = 0.3\nreconnect_max_s = 1.0\n"
    )
    first = _agent_process(config)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not buffer.exists() or len(_pending(buffer)) < 80):
            time.sleep(0.2)
        assert len(_pending(buffer)) >= 80
        address = mosquitto.start()
        down = subscribe(address.host, address.port, pki, persistent=True)
        # WHEN it is killed mid-backlog (some messages acknowledged, most still buffered)
        down.wait_for(lambda d: len(d.snapshot()) >= 2, 20, "the drain to start")
        first.send_signal(signal.SIGKILL)
        first.wait(5)
    finally:
        if first.poll() is None:
            first.kill()
    got_before_kill = [s for m in down.snapshot() for s in m["samples"]]
    left = [s for _, s in _pending(buffer)]
    assert left, "the backlog had already drained: not a mid-backlog kill"
    first_run = {orjson.dumps(s) for s in got_before_kill} | {orjson.dumps(s) for s in left}
    stamps = sorted({_ts_ms(orjson.loads(s)) for s in first_run})
    assert stamps == list(range(stamps[0], stamps[0] + 1000 * len(stamps), 1000)), "lost before the kill"

    # THEN a restarted agent sends everything the first one had not
    second = _agent_process(config)
    try:
        down.wait_for(lambda d: first_run <= {orjson.dumps(s) for s in d.samples()}, 40, "the first run's readings")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(10)
        down.stop()
    print(f"\nreboot: {len(left)} readings buffered at SIGKILL, {len(got_before_kill)} delivered before it")
