"""The bridge (the local IoT topic rule) against real brokers, amqtt and Mosquitto, in-process.

GIVEN real QoS 1 publishers, WHEN the bridge appends to a LocalStream, THEN each message is stamped with
the topic's device id, and it is acknowledged only after the append: a stream that fails leaves the
message with the broker, which delivers it again.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import orjson
import paho.mqtt.client as mqtt
import pytest

from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.stream import LocalStream
from energymon.adapters.mqtt.bridge import Bridge
from energymon.domain.reading import format_ts

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from energymon.adapters.mqtt.client import BrokerAddress

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


# Yesterday, UTC: the bridge refuses readings weeks older than their arrival.
_T0_S = (int(time.time()) // 86_400 - 1) * 86_400


def _message(device: str, seq: int, samples: int = 5) -> bytes:
    return orjson.dumps({
        "v": 1, "device_id": device, "seq": seq,
        "samples": [
            {"ts": format_ts((_T0_S + seq * samples + i) * 1000),
             "power_w": 100.0, "energy_wh": 1000.0 + (seq * samples + i) * 0.1}
            for i in range(samples)
        ],
    })


@pytest.fixture(params=["amqtt", "mosquitto"])
def broker(request: pytest.FixtureRequest) -> BrokerAddress:
    if request.param == "amqtt":
        return request.getfixturevalue("amqtt_broker")  # type: ignore[no-any-return]
    return request.getfixturevalue("mosquitto").start()  # type: ignore[no-any-return]


class FailingStream(LocalStream):
    """A LocalStream whose ``put_records`` raises while ``failures`` remain (or for ever when -1)."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path, shards=2)
        self.failures = failures
        self.calls = 0
        self.failed = threading.Event()

    def put_records(self, records: Sequence[tuple[str, bytes]]) -> list[tuple[str, str]]:
        self.calls += 1
        if self.failures != 0:
            self.failures -= 1 if self.failures > 0 else 0
            self.failed.set()
            raise OSError("disk full (injected)")
        return super().put_records(records)


def _all_records(stream: LocalStream) -> list[Any]:
    out = []
    for shard in stream.shard_ids():
        out += stream.get_records(shard, None, 10_000)
    return out


def _publish(address: BrokerAddress, items: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{time.monotonic_ns()}",
                         protocol=mqtt.MQTTv311)
    client.connect(address.host, address.port)
    client.loop_start()
    try:
        infos = [client.publish(t, p, qos=1) for t, p in items]
        for info in infos:
            info.wait_for_publish(30)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def _wait(predicate: Any, timeout_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _bridge(address: BrokerAddress, stream: LocalStream, tmp_path: Path, client_id: str = "bridge-test") -> Bridge:
    return Bridge(address, stream, SqliteDeadLetters(tmp_path / "dl.db"), PrometheusMetrics(), client_id=client_id)


def test_messages_are_appended_with_the_topic_device_id_stamped(broker, tmp_path):
    stream = LocalStream(tmp_path / "stream.db", shards=2)
    bridge = _bridge(broker, stream, tmp_path)
    bridge.start()
    try:
        items = [(f"energy/apt-{d}/telemetry", _message(f"apt-{d}", seq)) for seq in range(20) for d in (1, 2, 3)]
        _publish(broker, items)
        _wait(lambda: len(_all_records(stream)) == len(items), what="all messages in the stream")
    finally:
        bridge.stop()
    records = _all_records(stream)
    bodies = [orjson.loads(r.data) for r in records]
    # each record's partition key is the topic's device, stamped into the body as the IoT rule does
    assert all(b["topic_device_id"] == b["device_id"] == r.partition_key for b, r in zip(bodies, records, strict=True))
    assert sorted((b["device_id"], b["seq"]) for b in bodies) == sorted(
        (f"apt-{d}", seq) for seq in range(20) for d in (1, 2, 3))
    # per device, the stream keeps publish order (one shard per partition key)
    for d in (1, 2, 3):
        seqs = [b["seq"] for b in bodies if b["device_id"] == f"apt-{d}"]
        assert seqs == sorted(seqs)
    assert bridge.messages == len(items)


def test_a_failing_append_is_retried_and_nothing_is_lost_or_doubled(broker, tmp_path):
    # GIVEN a stream whose first three appends fail
    stream = FailingStream(tmp_path / "stream.db", failures=3)
    bridge = _bridge(broker, stream, tmp_path)
    bridge.start()
    try:
        items = [("energy/apt-1/telemetry", _message("apt-1", seq)) for seq in range(30)]
        _publish(broker, items)
        _wait(lambda: len(_all_records(stream)) == len(items), what="all messages after the failures")
    finally:
        bridge.stop()
    assert stream.calls > 3
    assert sorted(orjson.loads(r.data)["seq"] for r in _all_records(stream)) == list(range(30))


def test_a_message_is_not_acknowledged_until_appended_so_the_broker_delivers_it_again(broker, tmp_path, request):
    amqtt = request.node.callspec.params["broker"] == "amqtt"
    if amqtt:
        # Known limitation, measured here: amqtt 0.12 waits 5 s for a PUBACK, then drops the message from the
        # session (amqtt/mqtt/protocol/handler.py, _handle_qos1_message_flow: "Discard inflight message"), so it never
        # redelivers. Mosquitto does. The bridge's side (no ack before the append) is the same for both.
        request.applymarker(pytest.mark.xfail(strict=True, reason="amqtt drops unacknowledged QoS 1 after 5 s"))
    # GIVEN a bridge whose stream cannot append at all (a persistent session on the broker)
    broken = FailingStream(tmp_path / "broken.db", failures=-1)
    first = _bridge(broker, broken, tmp_path, client_id="bridge-redelivery")
    first.start()
    items = [("energy/apt-5/telemetry", _message("apt-5", seq)) for seq in range(10)]
    _publish(broker, items)
    assert broken.failed.wait(30)
    # WHEN it stops without having stored them, and a bridge with a healthy stream takes the same session
    first.stop()
    assert not first._writer.is_alive(), "the writer must give up (unacknowledged) when stopping"
    healthy = LocalStream(tmp_path / "stream.db", shards=2)
    second = _bridge(broker, healthy, tmp_path, client_id="bridge-redelivery")
    second.start()
    try:
        # THEN the broker redelivers every unacknowledged message and all of them are stored
        _wait(lambda: len(_all_records(healthy)) >= len(items), timeout_s=10 if amqtt else 30,
              what="redelivered messages")
    finally:
        second.stop()
    seqs = sorted(orjson.loads(r.data)["seq"] for r in _all_records(healthy))
    assert seqs == list(range(10))
    assert broken.calls >= 1 and not _all_records(broken)


def test_rejected_messages_are_dead_lettered_and_acknowledged(broker, tmp_path):
    stream = LocalStream(tmp_path / "stream.db", shards=2)
    letters = SqliteDeadLetters(tmp_path / "dl.db")
    bridge = Bridge(broker, stream, letters, PrometheusMetrics(), client_id="bridge-reject")
    bridge.start()
    try:
        _publish(broker, [
            ("energy/apt-1/telemetry", b"{not json"),
            ("energy/apt-2/telemetry", _message("apt-1", 0)),
            ("energy/apt-1/telemetry", _message("apt-1", 1)),
        ])
        _wait(lambda: letters.count() == 2 and len(_all_records(stream)) == 1, what="two letters, one record")
    finally:
        bridge.stop()
    assert sorted(dl.code for dl in letters.recent()) == ["not_json", "spoofed"]
    # a restarted bridge on the same session gets nothing again: rejected messages were acknowledged
    again = Bridge(broker, stream, letters, PrometheusMetrics(), client_id="bridge-reject")
    again.start()
    time.sleep(1.0)
    again.stop()
    assert letters.count() == 2 and len(_all_records(stream)) == 1
