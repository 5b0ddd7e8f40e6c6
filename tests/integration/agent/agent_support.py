"""Helpers for the device agent tests: Mosquitto as IoT Core's stand-in (mTLS + per-device ACL), a subscriber."""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from energymon.deploy.certs import CertPaths, DeviceCert

BRIDGE = "energymon-bridge"


@dataclass
class Pki:
    paths: CertPaths
    devices: dict[str, DeviceCert]

    def __getitem__(self, device_id: str) -> DeviceCert:
        return self.devices[device_id]


def mtls_config(pki: Pki, workdir: Path, basic_ingest_rule: str | None = None) -> str:
    """IoT Core's rules in Mosquitto: client certificate required, CN = user, publish only to energy/<CN>/#
    (and, with ``basic_ingest_rule``, to that rule's Basic Ingest topic for <CN>, as the device policy allows)."""
    acl = workdir / "acl"
    ingest = f"$aws/rules/{basic_ingest_rule}/energy" if basic_ingest_rule else None
    acl.write_text("pattern readwrite energy/%u/#\n"
                   + (f"pattern write {ingest}/%u/telemetry\n" if ingest else "")
                   + f"\nuser {BRIDGE}\ntopic read energy/#\n" + (f"topic read {ingest}/#\n" if ingest else ""))
    acl.chmod(0o644)
    store = workdir / "store"
    store.mkdir(exist_ok=True)
    store.chmod(0o777)
    return (
        f"cafile {pki.paths.ca_cert}\ncertfile {pki.paths.server_cert}\nkeyfile {pki.paths.server_key}\n"
        "require_certificate true\nuse_identity_as_username true\nallow_anonymous false\n"
        f"acl_file {acl}\n"
        # A persistent store, so the test's subscriber keeps its session across a broker restart.
        f"persistence true\npersistence_location {store}/\nautosave_interval 1\nlog_dest none\n"
    )


def tls_client(pki: Pki | None, client_id: str, cert: str | None, *, v5: bool = True, ca: Path | None = None) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311)
    if pki is not None:
        device = pki[cert] if cert else None
        client.tls_set(ca_certs=str(ca or pki.paths.ca_cert), certfile=str(device.cert) if device else None,
                       keyfile=str(device.key) if device else None, cert_reqs=ssl.CERT_REQUIRED)
    return client


@dataclass
class Downstream:
    """What the pipeline would receive: every message on energy/#, in arrival order."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    connected: threading.Event = field(default_factory=threading.Event)
    client: mqtt.Client | None = None

    def samples(self) -> list[dict[str, Any]]:
        with self.lock:
            return [s for m in self.messages for s in m["samples"]]

    def snapshot(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.messages)

    def wait_for(self, predicate: Callable[[Downstream], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate(self):
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")

    def stop(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()


def subscribe(host: str, port: int, pki: Pki | None, *, v5: bool = True, persistent: bool = False,
              topic_filter: str = "energy/#") -> Downstream:
    down = Downstream()
    client = tls_client(pki, BRIDGE if pki else f"test-sub-{os.getpid()}", BRIDGE if pki else None, v5=v5)
    client.reconnect_delay_set(0.1, 0.5)

    def on_connect(c: mqtt.Client, _u: object, _f: object, rc: Any, _p: object) -> None:
        if not rc.is_failure:
            c.subscribe(topic_filter, qos=1)

    def on_subscribe(*_: object) -> None:
        down.connected.set()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        body = orjson.loads(msg.payload)
        body["_topic"] = msg.topic
        with down.lock:
            down.messages.append(body)

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    if v5:
        props = None
        if persistent:
            from paho.mqtt.packettypes import PacketTypes
            from paho.mqtt.properties import Properties

            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = 3600
        client.connect(host, port, 30, clean_start=not persistent, properties=props)
    else:
        client.connect(host, port, 30)
    client.loop_start()
    down.client = client
    assert down.connected.wait(10), "subscriber did not connect"
    return down
