"""The whole local pipeline, from real MQTT clients to `energymon query`, with a clean shutdown that drains."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SAMPLES = 10


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_paho_and_mosquitto_pub_messages_are_stored_exactly_after_a_clean_stop(h, runtime_factory, stop_signal):
    # GIVEN the runtime on its embedded broker, with a long batching window so most records are
    # still in the stream when the stop arrives
    rt = runtime_factory("--simulate", "0", "--port", "0", "--batching-window", "30").start()
    port = rt.broker_port
    # WHEN apt-1 is published by paho and apt-2 by mosquitto_pub, then the runtime is stopped
    paho = h.Publisher(port)
    paho.publish_many([(h.topic("apt-1"), h.message("apt-1", seq, SAMPLES)) for seq in range(40)])
    paho.close()
    h.mosquitto_pub(port, h.topic("apt-2"), [h.message("apt-2", seq, SAMPLES) for seq in range(25)])
    rt.stop(stop_signal)
    # THEN the stop drained everything: kWh from the counters and raw reading counts match exactly
    assert h.totals(rt.data_dir, "apt-1") == (h.expected_mwh(400), 400)
    assert h.totals(rt.data_dir, "apt-2") == (h.expected_mwh(250), 250)
    # and the minute view adds up to the same day
    minutes = h.query_day(rt.data_dir, "apt-1", "minute")["periods"]
    assert len(minutes) == 7  # 400 s starting at midnight
    assert sum(p["samples"] for p in minutes) == 400


def test_duplicates_and_out_of_order_messages_do_not_change_the_totals(h, runtime_factory):
    # GIVEN a running runtime
    rt = runtime_factory(*h.embedded_args()).start()
    # WHEN every message is sent twice, the second pass in reverse order (QoS 1 redeliveries, replays)
    items = [(h.topic("apt-1"), h.message("apt-1", seq, SAMPLES)) for seq in range(30)]
    paho = h.Publisher(rt.broker_port)
    paho.publish_many(items)
    paho.publish_many(list(reversed(items)))
    paho.close()
    rt.stop()
    # THEN each reading is counted once and the energy is that of the counters
    assert h.totals(rt.data_dir, "apt-1") == (h.expected_mwh(300), 300)


def test_runtime_against_an_external_mosquitto(h, runtime_factory, mosquitto):
    # GIVEN a test-started Mosquitto and the runtime bridged to it
    address = mosquitto.start()
    rt = runtime_factory("--simulate", "0", "--broker", address.url, "--batching-window", "1").start()
    assert rt.info()["broker_url"] == address.url
    # WHEN messages arrive through both kinds of client
    paho = h.Publisher(address.port)
    paho.publish_many([(h.topic("apt-7"), h.message("apt-7", seq, SAMPLES)) for seq in range(0, 20)])
    paho.close()
    h.mosquitto_pub(address.port, h.topic("apt-7"), [h.message("apt-7", seq, SAMPLES) for seq in range(20, 35)])
    rt.stop(signal.SIGTERM)
    # THEN the stored day matches the stream of counters
    assert h.totals(rt.data_dir, "apt-7") == (h.expected_mwh(350), 350)


@pytest.fixture
def port_1883_taken() -> Iterator[None]:
    """Port 1883 busy: the shared Mosquitto already holds it here; otherwise we hold it for the test."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 1883))
        holder.listen()
    except OSError:
        holder.close()
        holder = None  # type: ignore[assignment]
    try:
        yield
    finally:
        if holder is not None:
            with contextlib.suppress(OSError):
                holder.close()


def test_default_embedded_broker_falls_back_to_a_free_port_when_1883_is_taken(h, runtime_factory, port_1883_taken):
    # GIVEN port 1883 is taken and the runtime is started with the default port
    rt = runtime_factory("--simulate", "0", "--batching-window", "1").start()
    # THEN it says which port it chose, and runtime.json holds the same broker URL
    port = rt.broker_port
    assert port != 1883
    # (runtime.json is written just before the command prints its first lines: wait for them)
    h.wait_until(lambda: f"the embedded broker listens on port {port} instead" in rt.output(), 15,
                 "the note naming the port it chose")
    # AND the pipeline works on that port
    h.mosquitto_pub(port, h.topic("apt-3"), [h.message("apt-3", seq, SAMPLES) for seq in range(5)])
    rt.stop()
    assert h.totals(rt.data_dir, "apt-3") == (h.expected_mwh(50), 50)
    assert not (rt.data_dir / "runtime.json").exists()


def test_ctrl_c_to_the_whole_process_group_still_stores_every_simulated_reading(h, runtime_factory):
    # GIVEN the runtime with two simulated apartments publishing one sample a second on the embedded broker
    rt = runtime_factory("--simulate", "2", "--publish-interval", "1", "--port", "0",
                         "--batching-window", "1").start()
    h.wait_until(lambda: h.stored_readings(rt.data_dir, "apt-2") >= 3, what="simulated readings")
    # WHEN Ctrl-C reaches every process of the terminal's process group (runtime AND broker child)
    out = rt.stop(signal.SIGINT, group=True)
    # THEN the broker outlives the bridge: every message the simulators published is stored
    assert "publish queued while offline" not in out, out
    assert "bridge disconnected" not in out, out
    for device in ("apt-1", "apt-2"):
        state = json.loads((rt.data_dir / "simulators" / f"{device}.json").read_text())
        assert h.stored_readings(rt.data_dir, device) == state["seq"]  # one sample per message at 1 s
