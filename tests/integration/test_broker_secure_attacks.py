"""The embedded broker's secure mode against a red team: real paho clients, the real broker subprocess.

GIVEN the amqtt broker in secure mode (client certificates, the IoT device policy) on a free loopback port,
WHEN a device sets a Will on another device's topic, or a client claims the bridge's client id without the
bridge's certificate, or a TLS client brings no certificate at all, THEN nothing reaches the pipeline under
another device's name, the bridge keeps its session (never disconnected, still receiving), and the
certificate-less client does not get past the TLS handshake.
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest

from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.stream import LocalStream
from energymon.adapters.mqtt.bridge import Bridge
from energymon.adapters.mqtt.broker import BrokerTLS, EmbeddedBroker, free_port
from energymon.adapters.mqtt.client import BrokerAddress, ClientTLS, new_client
from energymon.deploy.certs import CertPaths, ensure_ca, ensure_device
from energymon.domain.reading import Reading, encode_message, telemetry_topic

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

BRIDGE = "energymon-bridge"


class Pki:
    def __init__(self, directory: Path) -> None:
        self.paths: CertPaths = ensure_ca(directory)
        self.devices = {d: ensure_device(self.paths, d) for d in ("apt-1", "apt-2", BRIDGE)}

    @property
    def ca(self) -> str:
        return str(self.paths.ca_cert)

    def tls(self, identity: str | None) -> ClientTLS:
        """The files a client holding ``identity``'s certificate uses (None: the CA only, no certificate)."""
        if identity is None:
            return ClientTLS(self.ca)
        device = self.devices[identity]
        return ClientTLS(self.ca, str(device.cert), str(device.key))


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    return Pki(tmp_path / "certs")


@pytest.fixture
def broker(pki: Pki) -> Any:
    tls = BrokerTLS(pki.ca, str(pki.paths.server_cert), str(pki.paths.server_key), services=(BRIDGE,))
    embedded = EmbeddedBroker("127.0.0.1", free_port(), tls)
    embedded.start()
    yield BrokerAddress("127.0.0.1", embedded.port, tls=True)
    embedded.stop()


def reading_message(device: str, seq: int) -> bytes:
    """A valid canonical v1 message: what the pipeline would store under ``device``."""
    now_ms = (int(time.time()) - 60) * 1000
    return encode_message(device, seq, [Reading(device, now_ms + seq * 1000, 500.0, 1000.0 + seq)])


class Attempt:
    """One paho client's connection attempt, looped in the test's thread (no background reconnects)."""

    def __init__(self, address: BrokerAddress, client_id: str, tls: ClientTLS, *, clean_session: bool = True,
                 will_topic: str | None = None, will_payload: bytes = b"") -> None:
        self.address = address
        self.client = new_client(address, client_id, clean_session=clean_session, ca_file=tls.ca_file,
                                 cert_file=tls.cert_file, key_file=tls.key_file)
        if will_topic is not None:
            self.client.will_set(will_topic, will_payload, qos=1)
        self.connack: list[Any] = []
        self.closed = False
        self.client.on_connect = lambda _c, _u, _f, rc, _p: self.connack.append(rc)
        self.client.on_disconnect = lambda *_: setattr(self, "closed", True)

    def run(self, timeout_s: float = 5.0) -> bool:
        """True if the broker accepted the connection (a successful CONNACK); False if it refused or hung up."""
        try:
            self.client.connect(self.address.host, self.address.port, keepalive=30)
        except (OSError, ssl.SSLError):
            return False  # refused during the TLS handshake
        deadline = time.monotonic() + timeout_s
        while not self.connack and not self.closed and time.monotonic() < deadline:
            if self.client.loop(timeout=0.1) != mqtt.MQTT_ERR_SUCCESS:
                break
        return bool(self.connack) and not self.connack[0].is_failure

    def drop(self) -> None:
        """Lose the connection the way a device losing power does: no DISCONNECT, the socket just goes."""
        sock = self.client.socket()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self) -> None:
        if self.connack and not self.connack[0].is_failure and not self.closed:
            self.client.disconnect()


class Subscriber:
    """A client with the bridge's certificate and client id, recording every message it receives."""

    def __init__(self, address: BrokerAddress, pki: Pki, topic: str = "energy/+/telemetry") -> None:
        tls = pki.tls(BRIDGE)
        self.client = new_client(address, BRIDGE, ca_file=tls.ca_file, cert_file=tls.cert_file, key_file=tls.key_file)
        self.messages: list[tuple[str, bytes]] = []
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.client.on_connect = lambda c, _u, _f, rc, _p: None if rc.is_failure else c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(address.host, address.port, keepalive=30)
        self.client.loop_start()
        assert self.subscribed.wait(10), "the bridge identity could not subscribe"

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload)))

    def topics(self) -> list[str]:
        with self.lock:
            return [topic for topic, _ in self.messages]

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_until(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def test_a_will_on_another_devices_topic_is_refused_and_one_on_its_own_topic_is_delivered(
    broker: BrokerAddress, pki: Pki
) -> None:
    # GIVEN a subscriber with the bridge identity on every device's telemetry
    subscriber = Subscriber(broker, pki)
    try:
        # WHEN apt-1's certificate connects with a Will on apt-2's topic, a reading in apt-2's name ...
        spoof = Attempt(broker, "apt-1", pki.tls("apt-1"), will_topic=telemetry_topic("apt-2"),
                        will_payload=reading_message("apt-2", 1))
        accepted = spoof.run()
        # ... and then loses its connection without a DISCONNECT (which makes a broker publish the Will)
        spoof.drop()
        # THEN the broker refuses that CONNECT (IoT Core: a will topic the policy does not allow is not authorized)
        assert not accepted, "a Will on another device's topic must be refused at CONNECT"
        assert spoof.connack and spoof.connack[0] == "Not authorized", spoof.connack

        # WHEN apt-1 connects with a Will on its own topic and drops its connection the same way
        own = Attempt(broker, "apt-1", pki.tls("apt-1"), will_topic=telemetry_topic("apt-1"),
                      will_payload=reading_message("apt-1", 2))
        assert own.run(), f"a Will on the device's own topic is allowed: {own.connack}"
        own.drop()
        # THEN that Will is published (so the check above is not "no Wills at all") ...
        wait_until(lambda: telemetry_topic("apt-1") in subscriber.topics(), 10, "apt-1's own Will")
        time.sleep(0.5)  # anything queued before it (the spoofed Will was dropped first) has arrived by now
        # ... and nothing ever arrived under apt-2's name
        assert telemetry_topic("apt-2") not in subscriber.topics(), subscriber.messages
        assert subscriber.topics() == [telemetry_topic("apt-1")]
    finally:
        subscriber.stop()


def _records(stream: LocalStream) -> list[dict[str, Any]]:
    return [orjson.loads(r.data) for shard in stream.shard_ids() for r in stream.get_records(shard, None, 1000)]


@pytest.mark.parametrize("clean_session", [True, False], ids=["clean-session", "persistent-session"])
@pytest.mark.parametrize("attacker_cert", [None, "apt-1"], ids=["no-certificate", "apt-1-certificate"])
def test_a_client_claiming_the_bridge_id_is_refused_and_the_bridge_keeps_its_session(
    broker: BrokerAddress, pki: Pki, tmp_path: Path, caplog: pytest.LogCaptureFixture,
    attacker_cert: str | None, clean_session: bool,
) -> None:
    # GIVEN the real bridge (persistent session, subscribed) on its own certificate, storing apt-1's readings
    stream = LocalStream(tmp_path / "stream.db", shards=2)
    bridge = Bridge(broker, stream, SqliteDeadLetters(tmp_path / "dl.db"), PrometheusMetrics(), tls=pki.tls(BRIDGE))
    disconnects: list[Any] = []
    on_disconnect = bridge.client.on_disconnect

    def track(*args: Any) -> None:
        disconnects.append(args[3])
        on_disconnect(*args)

    bridge.client.on_disconnect = track
    publisher = Attempt(broker, "apt-1", pki.tls("apt-1"))
    with caplog.at_level(logging.WARNING, logger="energymon.adapters.mqtt.bridge"):
        bridge.start()
        try:
            assert publisher.run(), publisher.connack
            publisher.client.loop_start()
            publisher.client.publish(telemetry_topic("apt-1"), reading_message("apt-1", 1), qos=1).wait_for_publish(5)
            wait_until(lambda: len(_records(stream)) == 1, 10, "the first reading stored by the bridge")

            # WHEN an attacker connects as the bridge's client id without the bridge's certificate
            attacker = Attempt(broker, BRIDGE, pki.tls(attacker_cert), clean_session=clean_session)
            accepted = attacker.run()
            attacker.close()

            # THEN the attacker is refused ...
            assert not accepted, f"a client without the bridge's certificate got in as the bridge: {attacker.connack}"
            # ... and the bridge still receives and stores what apt-1 publishes afterwards ...
            publisher.client.publish(telemetry_topic("apt-1"), reading_message("apt-1", 2), qos=1).wait_for_publish(5)
            wait_until(lambda: len(_records(stream)) == 2, 10, "the reading published after the attack stored")
            # ... on the same connection: it was never disconnected (no "bridge disconnected" warning either)
            assert disconnects == [], disconnects
            assert bridge.connected.is_set()
            assert not [r for r in caplog.records if "bridge disconnected" in r.getMessage()]
        finally:
            publisher.client.disconnect()
            publisher.client.loop_stop()
            bridge.stop()
    assert sorted(r["seq"] for r in _records(stream)) == [1, 2]


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3], ids=["tls1.2", "tls1.3"])
def test_a_tls_client_without_a_certificate_cannot_complete_the_handshake(
    broker: BrokerAddress, pki: Pki, version: ssl.TLSVersion
) -> None:
    # GIVEN a TLS client that trusts the broker's CA but has no certificate of its own
    context = ssl.create_default_context(cafile=pki.ca)
    context.minimum_version = context.maximum_version = version
    connect = b"\x10\x10\x00\x04MQTT\x04\x02\x00\x1e\x00\x04nope"
    stage, answer = "handshake", b""
    # WHEN it connects to the secure listener and (if it gets that far) sends an MQTT CONNECT
    with socket.create_connection((broker.host, broker.port), timeout=5) as raw:
        # (no ragged EOFs: a connection cut without TLS's close_notify is an error, not an empty read)
        with pytest.raises(ssl.SSLError):  # noqa: PT012 - the handshake, then one read
            with context.wrap_socket(raw, server_hostname="127.0.0.1", suppress_ragged_eofs=False) as tls:
                stage = "first read"
                tls.sendall(connect)
                answer = tls.recv(4)
    # THEN the broker aborts its side of the handshake (a client certificate is required) and hangs up:
    # over TLS 1.2 the client's handshake itself fails; TLS 1.3 finishes the client's half of the handshake
    # before the server checks the client's certificate, so there the abort shows on the first read
    assert stage == ("handshake" if version is ssl.TLSVersion.TLSv1_2 else "first read")
    # ... and the client never saw a single MQTT byte (not even a refusing CONNACK)
    assert answer == b""


def test_the_bridge_that_loses_its_connection_resumes_its_session_and_gets_what_it_missed(
    broker: BrokerAddress, pki: Pki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN the real bridge (persistent session) on its certificate, storing apt-1's readings
    stream = LocalStream(tmp_path / "stream.db", shards=2)
    bridge = Bridge(broker, stream, SqliteDeadLetters(tmp_path / "dl.db"), PrometheusMetrics(), tls=pki.tls(BRIDGE))
    publisher = Attempt(broker, "apt-1", pki.tls("apt-1"))
    with caplog.at_level(logging.WARNING, logger="energymon.adapters.mqtt.bridge"):
        bridge.start()
        try:
            assert publisher.run(), publisher.connack
            publisher.client.loop_start()
            publisher.client.publish(telemetry_topic("apt-1"), reading_message("apt-1", 1), qos=1).wait_for_publish(5)
            wait_until(lambda: len(_records(stream)) == 1, 10, "the first reading stored by the bridge")
            # WHEN its connection is cut (no DISCONNECT) and apt-1 publishes while the bridge is away
            bridge.client.socket().shutdown(socket.SHUT_RDWR)
            wait_until(lambda: not bridge.connected.is_set(), 5, "the bridge to notice")
            publisher.client.publish(telemetry_topic("apt-1"), reading_message("apt-1", 2), qos=1).wait_for_publish(5)
            # THEN it logs the loss, reconnects on its own certificate (authenticated on this new connection,
            # not on the stored session's old one) and gets the reading the broker queued for its session
            wait_until(bridge.connected.is_set, 10, "the bridge to reconnect")
            wait_until(lambda: len(_records(stream)) == 2, 10, "the reading published while it was away")
            assert any("bridge disconnected" in r.getMessage() for r in caplog.records)
        finally:
            publisher.client.disconnect()
            publisher.client.loop_stop()
            bridge.stop()
    assert sorted(r["seq"] for r in _records(stream)) == [1, 2]
