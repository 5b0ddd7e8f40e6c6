"""GIVEN ``energymon run --secure`` (the local runtime mirroring IoT Core's security: mTLS embedded broker with
the device policy), WHEN devices and strangers connect with the certificates it made, THEN only a device's own
topic works, and the simulators and the bridge run on their own certificates.

The clients speak MQTT 3.1.1: amqtt, the embedded broker, refuses MQTT 5 at CONNECT. So a refused publish
shows as a closed connection (the policy plugin's answer), not as a PUBACK reason code.
"""

from __future__ import annotations

import socket
import sqlite3
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest

from energymon.adapters.local.packed_minutes import MinuteReadings

pytestmark = pytest.mark.e2e


# The test's own samples: ten, half a second off the whole seconds the simulators sample at, twenty minutes
# before the run (a few minutes of late data; months of it would make the processor re-cut months of rollups).
T0_MS = (int(time.time()) - 1200) * 1000 + 500
SAMPLES = 10


def message(device: str, h: Any) -> bytes:
    samples = [{"ts": h.iso(T0_MS + i * 1000), "power_w": 1800.0, "energy_wh": 1000.0 + i * 0.5}
               for i in range(SAMPLES)]
    return orjson.dumps({"v": 1, "device_id": device, "seq": 1, "samples": samples})


def window_readings(data_dir: Path, device: str) -> int:
    """Readings stored for ``device`` in the test's window (no simulator sample falls in it)."""
    con = sqlite3.connect(f"file:{data_dir / 'store.db'}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute("SELECT minute, data FROM samples WHERE device=? AND minute >= ? AND minute < ?",
                           (device, T0_MS - T0_MS % 60_000, T0_MS + SAMPLES * 1000)).fetchall()
    finally:
        con.close()
    stamps = [minute + o for minute, data in rows for o in MinuteReadings.unpack(minute, data).offsets]
    return sum(T0_MS <= ts < T0_MS + SAMPLES * 1000 for ts in stamps)


class Client:
    """A paho client over TLS that records what the broker answered."""

    def __init__(self, client_id: str, ca: str, cert: Path | None = None, key: Path | None = None) -> None:
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        self.client.tls_set(ca_certs=ca, certfile=str(cert) if cert else None, keyfile=str(key) if key else None,
                            cert_reqs=ssl.CERT_REQUIRED)
        self.connack: list[Any] = []
        self.answered = threading.Event()
        self.closed = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *_: (self.closed.set(), self.answered.set())

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self.connack.append(reason)
        self.answered.set()

    def connect(self, port: int) -> bool:
        """True if the broker accepted the connection (a successful CONNACK)."""
        try:
            self.client.connect("127.0.0.1", port, keepalive=30)
        except (OSError, ssl.SSLError):
            return False
        self.client.loop_start()
        self.answered.wait(10)
        return bool(self.connack) and not self.connack[0].is_failure

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_secure_runtime_lets_a_device_publish_only_as_itself(runtime_factory: Any, h: Any) -> None:
    # GIVEN the runtime in secure mode with two simulated apartments
    rt = runtime_factory("--secure", "--simulate", "2", "--publish-interval", "1", "--batching-window", "1",
                         "--port", "0", "--web-port", "0").start()
    info = rt.info()
    assert info and info["broker_url"].startswith("mqtts://127.0.0.1:")
    ca = info["ca_file"]
    certs = Path(info["certs_dir"])
    assert Path(ca) == certs / "ca.crt"
    # (runtime.json is written just before the notes are printed)
    h.wait_until(lambda: "secure mode — made a local CA and certificates in" in rt.output(), 10, "the note")
    for key in ("ca", "server", "energymon-bridge", "apt-1", "apt-2"):
        assert (certs / f"{key}.key").stat().st_mode & 0o777 == 0o600, key
    # ... whose simulators publish on their own certificates, through the bridge's own certificate
    h.wait_until(lambda: h.stored_readings(rt.data_dir, "apt-1") > 0 and h.stored_readings(rt.data_dir, "apt-2") > 0,
                 20, "both simulated apartments' readings")
    port = rt.broker_port

    # WHEN a client holding apt-1's certificate publishes on apt-1's topic, THEN it is accepted and stored
    own = Client("apt-1", ca, certs / "apt-1.crt", certs / "apt-1.key")
    assert own.connect(port), own.connack
    info_pub = own.client.publish(h.topic("apt-1"), message("apt-1", h), qos=1)
    info_pub.wait_for_publish(10)
    assert info_pub.is_published()
    own.close()
    h.wait_until(lambda: window_readings(rt.data_dir, "apt-1") == SAMPLES, 15, "apt-1's message stored")

    # WHEN the same certificate publishes on apt-2's topic, THEN the broker closes the connection ...
    spoof = Client("apt-1", ca, certs / "apt-1.crt", certs / "apt-1.key")
    assert spoof.connect(port), spoof.connack
    spoof.closed.clear()
    spoof.client.publish(h.topic("apt-2"), message("apt-2", h), qos=1)
    assert spoof.closed.wait(5), "a publish outside the device's topics must close its connection"
    spoof.client.loop_stop()

    # ... and a client without a certificate, or with apt-1's under another client id, cannot connect
    assert not Client("apt-1", ca).connect(port)
    assert not Client("apt-2", ca, certs / "apt-1.crt", certs / "apt-1.key").connect(port)
    # ... nor can one without TLS
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"\x10\x10\x00\x04MQTT\x04\x02\x00\x1e\x00\x04nope")
        try:
            answer = raw.recv(4)
        except OSError:
            answer = b""
        assert not answer.startswith(b"\x20\x02\x00\x00"), "a plain MQTT client got a successful CONNACK"

    # THEN, once stopped with SIGINT, everything accepted is stored (stop() checks lag 0) and nothing landed
    # for apt-2 from apt-1's certificate
    out = rt.stop(group=False)
    assert "energymon: stopped; stream lag 0, dead letters 0" in out
    assert window_readings(rt.data_dir, "apt-1") == SAMPLES
    assert window_readings(rt.data_dir, "apt-2") == 0
    assert h.stored_readings(rt.data_dir, "apt-2") > 0
