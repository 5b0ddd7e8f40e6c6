"""GIVEN Mosquitto standing in for IoT Core (mTLS, require_certificate, use_identity_as_username,
pattern readwrite energy/%u/#), WHEN the agent and other clients connect, THEN only apt-1's own topic works."""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from agent_support import mtls_config, subscribe, tls_client

from energymon.adapters.mqtt.bridge import canonical_to_record
from energymon.agent import DeviceAgent, SimulatorSource, load_agent_config

if TYPE_CHECKING:
    from pathlib import Path

    from agent_support import Pki

pytestmark = pytest.mark.integration


def agent_config(pki: Pki, port: int, buffer: Path, **extra: Any) -> Any:
    return load_agent_config(
        None, device_id="apt-1", broker_url=f"mqtts://127.0.0.1:{port}", ca_file=pki.paths.ca_cert,
        cert_file=pki["apt-1"].cert, key_file=pki["apt-1"].key, buffer_path=buffer,
        batch_interval_s=0.5, reconnect_min_s=0.2, reconnect_max_s=1.0, status_interval_s=0.2, **extra,
    )


def test_agent_for_apt1_publishes_and_every_reading_arrives(mosquitto: Any, pki: Pki, world_dir: Path) -> None:
    mosquitto.extra_config = mtls_config(pki, world_dir)
    mosquitto.workdir = world_dir
    address = mosquitto.start()
    down = subscribe(address.host, address.port, pki)
    cfg = agent_config(pki, address.port, world_dir / "buffer.db", sim_speed=20)
    agent = DeviceAgent(cfg, SimulatorSource("apt-1", speed=20))
    agent.start()
    time.sleep(3)
    agent.stop()
    down.wait_for(lambda d: len(d.samples()) >= agent.readings_buffered, 10, "every reading")
    down.stop()

    samples = down.samples()
    ts = [s["ts"] for s in samples]
    assert agent.readings_buffered >= 40
    assert len(set(ts)) == agent.readings_buffered
    assert ts == sorted(ts)
    assert {m["_topic"] for m in down.snapshot()} == {"energy/apt-1/telemetry"}
    with sqlite3.connect(world_dir / "buffer.db") as db:  # every reading left the buffer after its PUBACK
        assert db.execute("SELECT count(*) FROM pending").fetchone()[0] == 0


def test_agent_with_a_basic_ingest_rule_publishes_to_the_rules_topic_and_the_rule_sees_its_device(
    mosquitto: Any, pki: Pki, world_dir: Path
) -> None:
    """The agent's basic_ingest_rule: every reading goes to $aws/rules/<rule>/energy/apt-1/telemetry (the broker
    stands in for IoT Core, which would hand it to the rule without the broker), and the record made from it is
    the one the plain topic makes: same partition key, same topic_device_id (topic() skips the prefix)."""
    rule = "energymon_telemetry_to_kinesis"
    mosquitto.extra_config = mtls_config(pki, world_dir, basic_ingest_rule=rule)
    mosquitto.workdir = world_dir
    address = mosquitto.start()
    down = subscribe(address.host, address.port, pki, topic_filter=f"$aws/rules/{rule}/energy/#")
    cfg = agent_config(pki, address.port, world_dir / "buffer.db", sim_speed=20, basic_ingest_rule=rule)
    agent = DeviceAgent(cfg, SimulatorSource("apt-1", speed=20))
    agent.start()
    time.sleep(2)
    agent.stop()
    down.wait_for(lambda d: len(d.samples()) >= agent.readings_buffered, 10, "every reading")
    down.stop()

    assert agent.readings_buffered >= 20
    assert len({s["ts"] for s in down.samples()}) == agent.readings_buffered
    assert {m["_topic"] for m in down.snapshot()} == {f"$aws/rules/{rule}/energy/apt-1/telemetry"}
    message = {k: v for k, v in down.snapshot()[0].items() if k != "_topic"}
    payload = orjson.dumps(message)
    record = canonical_to_record(f"$aws/rules/{rule}/energy/apt-1/telemetry", payload)
    assert record == canonical_to_record("energy/apt-1/telemetry", payload)
    assert record[0] == "apt-1" and orjson.loads(record[1])["topic_device_id"] == "apt-1"


def _publish_result(client: Any, topic: str) -> str:
    done = threading.Event()
    result: dict[str, str] = {}

    def on_publish(_c: Any, _u: Any, _mid: int, rc: Any, _p: Any) -> None:
        result["rc"] = str(rc)
        done.set()

    client.on_publish = on_publish
    client.publish(topic, b'{"v":1}', qos=1)
    assert done.wait(5), "no PUBACK"
    return result["rc"]


def test_apt1_certificate_cannot_publish_to_apt2_and_mqtt5_says_so(mosquitto: Any, pki: Pki, world_dir: Path) -> None:
    mosquitto.extra_config = mtls_config(pki, world_dir)
    mosquitto.workdir = world_dir
    address = mosquitto.start()
    down = subscribe(address.host, address.port, pki)
    client = tls_client(pki, "apt-1", "apt-1")
    connected = threading.Event()
    client.on_connect = lambda *a: connected.set()
    client.connect(address.host, address.port, 30)
    client.loop_start()
    assert connected.wait(5)

    assert _publish_result(client, "energy/apt-2/telemetry") == "Not authorized"
    assert _publish_result(client, "energy/apt-1/telemetry") == "Success"
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()
    down.stop()
    assert [m["_topic"] for m in down.snapshot()] == ["energy/apt-1/telemetry"]


def test_client_without_certificate_is_refused(mosquitto: Any, pki: Pki, world_dir: Path) -> None:
    mosquitto.extra_config = mtls_config(pki, world_dir)
    mosquitto.workdir = world_dir
    address = mosquitto.start()
    client = tls_client(pki, "apt-1", None)
    connected = threading.Event()
    client.on_connect = lambda _c, _u, _f, rc, _p: (not rc.is_failure) and connected.set()
    try:
        client.connect(address.host, address.port, 30)
        client.loop_start()
        refused = not connected.wait(3)
    except OSError:  # the TLS handshake itself fails: the server demands a certificate
        refused = True
    finally:
        client.loop_stop()
    assert refused
