"""Bad input through a real broker: each bad message is dead-lettered with a readable reason, and the
pipeline keeps storing the good messages that follow."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import orjson
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SAMPLES = 10


def _bad_messages(h) -> list[tuple[str, str, bytes, str]]:
    """(name, topic, payload, expected code)."""
    good = orjson.loads(h.message("apt-1", 0, SAMPLES))
    oversized = dict(good, padding="x" * (130 * 1024))
    return [
        ("oversized", h.topic("apt-1"), orjson.dumps(oversized), "too_large"),
        ("not JSON", h.topic("apt-1"), b"power=412.5;energy=1234567", "not_json"),
        ("wrong version", h.topic("apt-1"), orjson.dumps(dict(good, v=2)), "schema"),
        ("no samples", h.topic("apt-1"), orjson.dumps(dict(good, samples=[])), "schema"),
        ("sample without a value", h.topic("apt-1"),
         orjson.dumps(dict(good, samples=[{"ts": h.iso(h.T0_MS)}])), "schema"),
        ("device id is not the topic's", h.topic("apt-2"), h.message("apt-1", 0, SAMPLES), "spoofed"),
        ("implausible power", h.topic("apt-1"),
         orjson.dumps(dict(good, samples=[dict(good["samples"][0], power_w=9e9)])), "implausible"),
    ]


def _dead_letters_cli(data_dir) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "energymon.runtimes.cli", "dead-letters", "--data-dir", str(data_dir), "--limit", "50"],
        capture_output=True, check=True, timeout=60, env=dict(os.environ, COLUMNS="400"),
    )
    return out.stdout.decode()


@pytest.mark.parametrize("client", ["paho", "mosquitto_pub"])
def test_bad_messages_are_dead_lettered_with_a_reason_and_good_ones_still_stored(h, runtime_factory, tmp_path, client):
    # GIVEN the runtime on its embedded broker (amqtt)
    rt = runtime_factory(*h.embedded_args()).start()
    port = rt.broker_port
    bad = _bad_messages(h)
    # WHEN good messages, then every kind of bad message, then more good messages are published
    before = [(h.topic("apt-1"), h.message("apt-1", seq, SAMPLES)) for seq in range(0, 10)]
    after = [(h.topic("apt-1"), h.message("apt-1", seq, SAMPLES)) for seq in range(10, 20)]
    sequence = [*before, *[(t, p) for _, t, p, _ in bad], *after]
    if client == "paho":
        pub = h.Publisher(port)
        for topic_name, payload in sequence:
            pub.publish(topic_name, payload)
        pub.close()
    else:
        for i, (topic_name, payload) in enumerate(sequence):
            path = tmp_path / f"m{i}.bin"
            path.write_bytes(payload)
            h.mosquitto_pub_file(port, topic_name, path)
    h.wait_until(lambda: h.stored_readings(rt.data_dir, "apt-1") == 200, what="the good messages after the bad")
    rt.stop()
    # THEN every bad message is in the dead-letter store, at the bridge, with its reason
    letters = h.dead_letters(rt.data_dir)
    assert [d["code"] for d in letters] == [code for *_, code in bad]
    assert all(d["stage"] == "bridge" for d in letters)
    by_code = {d["code"]: d for d in letters}
    assert "over the 131072-byte limit" in by_code["too_large"]["reason"]
    # a bounded prefix of the payload is kept for inspection, with the real size and hash beside it
    assert by_code["too_large"]["size"] == 4096
    assert by_code["too_large"]["detail"]["payload_bytes"] > 128 * 1024
    assert len(by_code["too_large"]["detail"]["payload_sha256"]) == 64
    assert "not JSON" in by_code["not_json"]["reason"]
    assert "does not match the topic's device 'apt-2'" in by_code["spoofed"]["reason"]
    assert by_code["spoofed"]["source"] == "energy/apt-2/telemetry"
    assert "implausible" in by_code["implausible"]["reason"]
    reasons = [d["reason"] for d in letters if d["code"] == "schema"]
    assert any("unsupported wire format version 2" in r for r in reasons)
    assert any("samples must be a non-empty list" in r for r in reasons)
    assert any("needs power_w or energy_wh" in r for r in reasons)
    # AND nothing of them reached the store: apt-2 (the spoofed topic) has no data, apt-1 exactly 200 readings
    assert h.totals(rt.data_dir, "apt-1") == (h.expected_mwh(200), 200)
    query = subprocess.run(
        [sys.executable, "-m", "energymon.runtimes.cli", "query", "--device", "apt-2", "--data-dir", str(rt.data_dir)],
        check=False, capture_output=True, timeout=60,
    )
    assert query.returncode != 0
    assert b"unknown device 'apt-2'" in query.stderr
    # AND a person can read the reasons with `energymon dead-letters`
    listing = _dead_letters_cli(rt.data_dir)
    assert f"dead letters ({len(bad)} in all, 0 given up" in listing
    for code in ("too_large", "not_json", "schema", "spoofed", "implausible"):
        assert code in listing
    assert "does not match the topic's device" in listing


def test_bad_messages_through_mosquitto_do_not_stop_the_pipeline(h, runtime_factory, mosquitto):
    # GIVEN the runtime bridged to a test-started Mosquitto
    address = mosquitto.start()
    rt = runtime_factory("--simulate", "0", "--broker", address.url, "--batching-window", "1").start()
    # WHEN bad and good messages are interleaved
    bad = _bad_messages(h)
    pub = h.Publisher(address.port)
    for seq in range(len(bad)):
        _, topic_name, payload, _ = bad[seq]
        pub.publish(topic_name, payload)
        pub.publish(h.topic("apt-1"), h.message("apt-1", seq, SAMPLES))
    pub.close()
    h.wait_until(lambda: h.stored_readings(rt.data_dir, "apt-1") == len(bad) * SAMPLES, what="good readings")
    rt.stop(signal.SIGTERM)
    # THEN each bad one is dead-lettered and each good one stored
    assert sorted(d["code"] for d in h.dead_letters(rt.data_dir)) == sorted(code for *_, code in bad)
    n = len(bad) * SAMPLES
    assert h.totals(rt.data_dir, "apt-1") == (h.expected_mwh(n), n)
