"""Crash safety: SIGKILL the runtime mid-stream; nothing is lost, nothing is counted twice, nothing is orphaned."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SAMPLES = 10
DEVICE = "apt-9"


def test_sigkill_mid_stream_with_an_external_broker_loses_and_doubles_nothing(h, runtime_factory, mosquitto):
    # GIVEN a Mosquitto that keeps the bridge's persistent session (QoS 1 queue unbounded) while it is down
    mosquitto.extra_config = "allow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 100"
    address = mosquitto.start()
    rt = runtime_factory("--simulate", "0", "--broker", address.url, "--batching-window", "0.5").start()
    total_messages = 150
    published = 0
    progress = threading.Condition()
    first_kill_done = threading.Event()  # the publisher never runs past message 100 before the first kill

    def publish_stream() -> None:
        nonlocal published
        pub = h.Publisher(address.port, "crash-publisher")
        try:
            for seq in range(total_messages):
                if seq == 100:
                    assert first_kill_done.wait(120)
                pub.publish(h.topic(DEVICE), h.message(DEVICE, seq, SAMPLES))
                with progress:
                    published = seq + 1
                    progress.notify_all()
                time.sleep(0.02)
        finally:
            pub.close()

    def wait_published(n: int) -> None:
        with progress:
            assert progress.wait_for(lambda: published >= n, timeout=120), f"publisher stuck at {published}"

    publisher = h.Background(publish_stream)
    publisher.start()
    # WHEN the runtime is SIGKILLed once it has stored part of the stream, while publishing goes on
    wait_published(30)
    h.wait_until(lambda: h.stored_readings(rt.data_dir, DEVICE) > 0, what="first readings stored")
    rt.kill()
    killed_at = published
    first_kill_done.set()
    assert killed_at < total_messages, "the kill must land mid-stream"
    wait_published(min(killed_at + 40, total_messages))
    # AND it is restarted, and SIGKILLed again while it catches up on what the broker kept for it
    rt.start()
    wait_published(min(killed_at + 70, total_messages))
    rt.kill()
    rt.start()
    publisher.result()
    # THEN, once caught up, every published reading is stored exactly once
    h.wait_until(lambda: h.stored_readings(rt.data_dir, DEVICE) >= total_messages * SAMPLES,
                 timeout_s=90, what="all readings stored")
    rt.stop()
    readings = total_messages * SAMPLES
    assert h.totals(rt.data_dir, DEVICE) == (h.expected_mwh(readings), readings)
    assert h.stored_readings(rt.data_dir, DEVICE) == readings
    assert not (rt.data_dir / "deadletters.db").exists() or h.dead_letters(rt.data_dir) == []


def _port_refuses(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_sigkill_with_the_embedded_broker_leaves_no_orphan_and_the_stream_survives(h, runtime_factory):
    # GIVEN the runtime on its embedded broker, with a batching window long enough that records wait in
    # the stream
    rt = runtime_factory("--simulate", "0", "--port", "0", "--batching-window", "60").start()
    port = rt.broker_port
    brokers = rt.children()
    assert len(brokers) == 1, f"expected one broker child, got {brokers}"
    broker_pid = brokers[0]
    pub = h.Publisher(port)
    pub.publish_many([(h.topic(DEVICE), h.message(DEVICE, seq, SAMPLES)) for seq in range(20)])
    pub.close()
    stream_db = rt.data_dir / "stream.db"

    def stream_records() -> int:
        con = sqlite3.connect(f"file:{stream_db}?mode=ro", uri=True, timeout=30)
        try:
            return int(con.execute("SELECT COUNT(*) FROM records").fetchone()[0])
        finally:
            con.close()

    h.wait_until(lambda: stream_records() == 20, what="the bridge to append all 20 messages")
    # WHEN the runtime is SIGKILLed
    rt.kill()
    # THEN its broker dies with it: no process left, nobody listening on the port
    h.wait_until(lambda: not h.pid_alive(broker_pid), timeout_s=30, what="the broker child to exit")
    h.wait_until(lambda: _port_refuses(port), timeout_s=30, what="the broker port to close")
    # AND what the stream had accepted is processed after a restart, without being published again
    assert h.stored_readings(rt.data_dir, DEVICE) == 0
    rt.start()
    h.wait_until(rt.children, what="the new broker child")
    rt.stop()
    assert h.totals(rt.data_dir, DEVICE) == (h.expected_mwh(200), 200)


def test_ctrl_c_while_the_runtime_is_still_starting_is_the_same_clean_stop(h, runtime_factory):
    # GIVEN the runtime in the middle of starting: its embedded broker is up, the rest is still coming
    rt = runtime_factory("--simulate", "1", "--port", "0").start(wait_ready=False)
    h.wait_until(rt.children, timeout_s=60, what="the broker child")
    # WHEN the user presses Ctrl-C right then
    out = rt.stop()
    # THEN it finishes starting, stops cleanly (exit 0) and says so, instead of exiting 130 half-started
    assert "energymon: stopping" in out, out
