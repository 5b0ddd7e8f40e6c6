"""Bad meter input is logged with its reason and the agent keeps going; the agent also works against the
embedded (amqtt) broker in secure mode; the buffer's bounds drop the oldest readings and count them."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from agent_support import BRIDGE, Pki, subscribe, tls_client

from energymon.adapters.mqtt.broker import BrokerTLS, EmbeddedBroker, free_port
from energymon.agent import (
    Buffer,
    DeviceAgent,
    DryRunTransport,
    P1Source,
    RelaySource,
    SimulatorSource,
    load_agent_config,
)
from energymon.domain.reading import Reading

pytestmark = pytest.mark.integration

DEVICES = Path(__file__).parents[2] / "events" / "devices"


# The real payloads carry the day they were captured; the pipeline refuses readings weeks older than their
# arrival, so a relayed fixture is re-dated to now (and a telegram's CRC computed again).
def _crc16_arc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def fresh_telegram(raw: bytes) -> bytes:
    local = datetime.now(ZoneInfo("Europe/Amsterdam"))
    stamp = local.strftime("%y%m%d%H%M%S") + ("S" if local.dst() else "W")
    body = re.sub(rb"0-0:1\.0\.0\(\d{12}[WS]\)", f"0-0:1.0.0({stamp})".encode(), raw[: raw.index(b"!") + 1])
    return body + f"{_crc16_arc(body):04X}\r\n".encode()


def fresh_payload(name: str) -> bytes:
    body = orjson.loads((DEVICES / name).read_bytes())
    if "Time" in body:  # Tasmota: local time without a zone
        body["Time"] = datetime.now(ZoneInfo("Europe/Amsterdam")).strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(body.get("params"), dict) and "ts" in body["params"]:  # Shelly: epoch seconds
        body["params"]["ts"] = round(time.time(), 2)
    return orjson.dumps(body)


class Printed:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def samples(self) -> int:
        return sum(len(orjson.loads(line.split(" ", 1)[1])["samples"]) for line in list(self.lines))

    def wait(self, n: int, timeout_s: float = 10) -> None:
        """Until ``n`` samples were printed."""
        deadline = time.monotonic() + timeout_s
        while self.samples() < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.samples() >= n, self.lines


def dry_agent(source: Any, printed: Printed) -> DeviceAgent:
    cfg = load_agent_config(None, device_id="apt-1", batch_interval_s=0, timezone="Europe/Amsterdam")
    return DeviceAgent(cfg, source, transport=DryRunTransport(printed), buffer=Buffer(":memory:"))


def test_garbled_p1_telegram_is_logged_and_the_agent_keeps_reading(caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN a ser2net-style TCP P1 reader sending a good telegram, one with a flipped digit, and a good one
    good = fresh_telegram((DEVICES / "dsmr_v5_telegram.txt").read_bytes())
    garbled = good.replace(b"1-0:1.7.0(00", b"1-0:1.7.0(09", 1)
    assert garbled != good
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        time.sleep(0.5)  # pyserial's socket:// open() flushes what arrived before it finished opening
        with conn:
            for telegram in (good, garbled, good):
                conn.sendall(telegram)
                time.sleep(0.3)
            time.sleep(3)

    threading.Thread(target=serve, daemon=True).start()
    printed = Printed()
    source = P1Source(f"socket://127.0.0.1:{port}", "apt-1", "Europe/Amsterdam")
    agent = dry_agent(source, printed)
    # WHEN the agent reads the port
    with caplog.at_level(logging.WARNING, logger="energymon.agent"):
        agent.start()
        printed.wait(2)
        alive = agent._thread is not None and agent._thread.is_alive()
        agent.stop()
    server.close()
    # THEN both good telegrams were published, the garbled one was logged with its reason
    assert alive
    assert all(line.startswith("energy/apt-1/telemetry ") for line in printed.lines)
    assert source.rejected == {"crc_mismatch": 1}
    assert any("CRC does not match" in r.getMessage() and "crc_mismatch" in r.getMessage() for r in caplog.records)


def test_tasmota_without_energy_and_shelly_other_component_are_logged_and_skipped(
    mosquitto: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN the home broker with a Tasmota plug and a Shelly relayed by two agents
    address = mosquitto.start()
    tasmota_out, shelly_out = Printed(), Printed()
    tasmota = RelaySource("tasmota", f"mqtt://127.0.0.1:{address.port}", "apt-1", "Europe/Amsterdam")
    shelly = RelaySource("shelly", f"mqtt://127.0.0.1:{address.port}", "apt-1", "UTC")
    agents = [dry_agent(tasmota, tasmota_out), dry_agent(shelly, shelly_out)]
    with caplog.at_level(logging.WARNING, logger="energymon.agent"):
        for a in agents:
            a.start()
        time.sleep(1.0)  # subscriptions in place
        pub = tls_client(None, "plugs", None, v5=False)
        pub.connect(address.host, address.port)
        pub.loop_start()
        # WHEN a bad message comes first, then a good one
        for topic, name in [
            ("tele/kitchen/SENSOR", "tasmota_sensor_no_energy.json"),
            ("tele/kitchen/SENSOR", "tasmota_sensor.json"),
            # a NotifyEvent carries no meter status (switch:0 is a meter since Gen2 switches are read)
            ("shellypro3em-c8f09e8812a4/events/rpc", "shelly_pro3em_notifyevent.json"),
            ("shellypro3em-c8f09e8812a4/events/rpc", "shelly_pro3em_em.json"),
        ]:
            pub.publish(topic, fresh_payload(name), qos=1).wait_for_publish(5)
        tasmota_out.wait(1)
        shelly_out.wait(1)
        alive = all(a._thread is not None and a._thread.is_alive() for a in agents)
        for a in agents:
            a.stop()
        pub.disconnect()
        pub.loop_stop()
    # THEN each bad one is logged with its reason, the good ones are published as apt-1, the agents run on
    assert alive
    assert tasmota.rejected == {"no_energy_block": 1}
    assert shelly.rejected == {"wrong_component": 1}
    messages = [r.getMessage() for r in caplog.records]
    assert any("no ENERGY block" in m for m in messages)
    assert any("'NotifyEvent'" in m and "wrong_component" in m for m in messages)
    assert all('"device_id":"apt-1"' in line for line in tasmota_out.lines + shelly_out.lines)


def test_agent_works_against_the_embedded_broker_in_secure_mode(pki: Pki, world_dir: Path) -> None:
    # GIVEN the embedded broker requiring client certificates, with the IoT device policy
    tls = BrokerTLS(str(pki.paths.ca_cert), str(pki.paths.server_cert), str(pki.paths.server_key),
                    services=(BRIDGE,))
    broker = EmbeddedBroker("127.0.0.1", free_port(), tls)
    broker.start()
    try:
        down = subscribe("127.0.0.1", broker.port, pki, v5=False)
        # WHEN the agent connects (asks for MQTT 5, falls back: amqtt speaks 3.1.1) and publishes
        cfg = load_agent_config(
            None, device_id="apt-1", broker_url=f"mqtts://127.0.0.1:{broker.port}", ca_file=pki.paths.ca_cert,
            cert_file=pki["apt-1"].cert, key_file=pki["apt-1"].key, buffer_path=world_dir / "buffer.db",
            batch_interval_s=0.5, reconnect_min_s=0.1, reconnect_max_s=0.5, sim_speed=20,
        )
        agent = DeviceAgent(cfg, SimulatorSource("apt-1", speed=20))
        agent.start()
        time.sleep(3)
        agent.stop()
        down.wait_for(lambda d: len({s["ts"] for s in d.samples()}) >= agent.readings_buffered, 10, "every reading")
        assert agent.readings_buffered >= 40

        # THEN apt-1's certificate cannot publish as apt-2 (amqtt: dropped, connection closed) ...
        spoof = tls_client(pki, "apt-1", "apt-1", v5=False)
        gone = threading.Event()
        spoof.on_disconnect = lambda *_: gone.set()
        spoof.connect("127.0.0.1", broker.port)
        spoof.loop_start()
        spoof.publish("energy/apt-2/telemetry", b'{"v":1}', qos=1)
        assert gone.wait(5), "a policy violation must close the connection"
        spoof.loop_stop()
        # ... nor connect under another client id (refused at CONNECT), and a client without a certificate
        # does not get past the TLS handshake
        for client_id, cert in (("apt-2", "apt-1"), ("apt-1", None)):
            client = tls_client(pki, client_id, cert, v5=False)
            result: list[Any] = []
            client.on_connect = lambda _c, _u, _f, rc, _p, result=result: result.append(rc)
            try:
                client.connect("127.0.0.1", broker.port)
            except OSError:
                assert cert is None, "only a certificate-less client is stopped at the handshake"
                continue
            client.loop_start()
            deadline = time.monotonic() + 5
            while not result and time.monotonic() < deadline:
                time.sleep(0.05)
            client.loop_stop()
            if cert is None:
                assert not result or result[0].is_failure, result
            else:
                assert result and result[0].is_failure, (client_id, cert, result)
        time.sleep(0.3)
        down.stop()
        assert {m["_topic"] for m in down.snapshot()} == {"energy/apt-1/telemetry"}
    finally:
        broker.stop()


def test_full_buffer_drops_the_oldest_and_counts_them(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN a buffer bounded to 100 readings
    buf = Buffer(tmp_path / "b.db", max_readings=100, max_age_s=3600)
    readings = [Reading("apt-1", 1_800_000_000_000 + i * 1000, 100.0, 1000.0 + i) for i in range(130)]
    # WHEN 130 arrive
    with caplog.at_level(logging.WARNING):
        for chunk in range(0, 130, 10):
            buf.append(readings[chunk:chunk + 10])
    # THEN the newest 100 are kept, 30 dropped, counted persistently and logged
    rows = buf.rows(0, None, 1000)
    assert len(rows) == 100 and rows[0].ts_ms == readings[30].ts_ms
    assert buf.dropped == 30
    buf.close()
    assert Buffer(tmp_path / "b.db", max_readings=100).dropped == 30
    assert any("buffer is full" in r.getMessage() for r in caplog.records)
    # AND readings past the age bound go too
    aged = Buffer(tmp_path / "c.db", max_readings=1000, max_age_s=60)
    aged.append(readings[:100])
    aged.enforce_age(readings[99].ts_ms)
    assert aged.count() == 61 and aged.dropped == 39
