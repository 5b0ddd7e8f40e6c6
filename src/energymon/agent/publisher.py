"""Transports the agent publishes through: MQTT (paho, MQTT 5 over mutual TLS) and a dry run that prints.

A transport is driven from the agent's one thread: ``connect()`` starts a connection (raising ``OSError``
when the broker cannot be reached), ``loop(timeout)`` does the network I/O and calls back
``on_connect(ok, reason)``, ``on_disconnect(reason)`` and ``on_ack(mid, ok, reason_code, reason)``.
A fresh paho client is made for every connection, so nothing paho queued for a dead connection is sent
behind the agent's back: after a reconnect the agent re-sends from its buffer, in order.
"""

from __future__ import annotations

import logging
import ssl
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from energymon.adapters.mqtt.client import parse_broker_url
from energymon.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    from paho.mqtt.reasoncodes import ReasonCode

    from energymon.agent.config import AgentConfig

__all__ = ["DryRunTransport", "MqttTransport", "PERMANENT_REFUSALS", "Transport", "check_tls_files"]

log = logging.getLogger(__name__)

# MQTT 5 PUBACK reason codes after which re-sending the same message can never succeed.
PERMANENT_REFUSALS = frozenset({0x87, 0x90, 0x95, 0x99})  # not authorized, topic invalid, too large, bad format


class Transport(Protocol):
    @property
    def description(self) -> str: ...

    on_connect: Callable[[bool, str], None]
    on_disconnect: Callable[[str], None]
    on_ack: Callable[[int, bool, int, str], None]

    def connect(self) -> None: ...
    def loop(self, timeout: float) -> None: ...
    def publish(self, topic: str, payload: bytes) -> int | None: ...
    def close(self) -> None: ...


def _noop(*_: object) -> None:
    return None


_CA_FIX = ("point it at the CA certificate that signed the broker's (ca.crt from `energymon certs`, "
           "or AmazonRootCA1.pem for AWS IoT Core)")
_PAIR_FIX = ("point cert_file and key_file (--cert-file, --key-file) at the device's certificate and key "
             "(<device id>.crt and .key from `energymon certs`, or the files `energymon device provision` wrote)")


class _EncryptedKey(Exception):
    """Raised by the password callback: the agent runs unattended, so it never asks for a passphrase."""


def _no_password() -> bytes:
    raise _EncryptedKey


def _where(path: Path) -> str:
    return str(path) if path.is_absolute() else f"{path} (relative to {Path.cwd()})"


def _readable(setting: str, path: Path, fix: str) -> None:
    if not path.exists():
        raise ConfigError(f"{setting} {_where(path)} does not exist; {fix}")
    if path.is_dir():
        raise ConfigError(f"{setting} {_where(path)} is a folder, not a file; {fix}")
    try:
        with path.open("rb") as f:
            f.read(1)
    except OSError as exc:
        raise ConfigError(f"{setting} {_where(path)} cannot be read ({exc.strerror or exc}); {fix}") from exc


def check_tls_files(
    ca_file: Path | None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    *,
    ca_setting: str = "ca_file (--ca-file)",
    ca_fix: str = _CA_FIX,
) -> None:
    """Refuse at start, naming the file, what would otherwise fail every connection attempt for ever.

    Every file must exist and be readable; the CA must hold a PEM certificate; the certificate and the key
    must be PEM, belong together, and the key must not be encrypted (paho would prompt for its passphrase).
    """
    if ca_file is not None:
        _readable(ca_setting, ca_file, ca_fix)
    if cert_file is not None:
        _readable("cert_file (--cert-file)", cert_file, _PAIR_FIX)
    if key_file is not None:
        _readable("key_file (--key-file)", key_file, _PAIR_FIX)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except ssl.SSLError as exc:
            raise ConfigError(
                f"{ca_setting} {_where(ca_file)} holds no PEM certificate ({exc.reason or exc}); {ca_fix}"
            ) from exc
    if cert_file is not None and key_file is not None:
        try:
            context.load_cert_chain(str(cert_file), str(key_file), password=_no_password)
        except _EncryptedKey:
            raise ConfigError(
                f"key_file (--key-file) {_where(key_file)} is encrypted: the agent runs unattended and needs "
                f"an unencrypted key; {_PAIR_FIX}"
            ) from None
        except ssl.SSLError as exc:
            raise ConfigError(
                f"cert_file {_where(cert_file)} and key_file {_where(key_file)} are not a PEM certificate and "
                f"its private key ({exc.reason or exc}); {_PAIR_FIX}"
            ) from exc


class MqttTransport:
    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.address = parse_broker_url(config.broker_url)
        if self.address.tls:
            check_tls_files(config.ca_file, config.cert_file, config.key_file)
        self.version = mqtt.MQTTv5 if config.mqtt_version == "5" else mqtt.MQTTv311
        self.client: mqtt.Client | None = None
        self.on_connect: Callable[[bool, str], None] = _noop
        self.on_disconnect: Callable[[str], None] = _noop
        self.on_ack: Callable[[int, bool, int, str], None] = _noop

    @property
    def description(self) -> str:
        return f"{self.address.url} (MQTT {'5' if self.version == mqtt.MQTTv5 else '3.1.1'})"

    def _new_client(self) -> mqtt.Client:
        cfg = self.config
        v5 = self.version == mqtt.MQTTv5
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.mqtt_client_id,
            protocol=self.version,
            clean_session=None if v5 else True,
        )
        client.max_inflight_messages_set(cfg.max_inflight)
        client.max_queued_messages_set(0)
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set(
                ca_certs=str(cfg.ca_file) if cfg.ca_file else None,
                certfile=str(cfg.cert_file) if cfg.cert_file else None,
                keyfile=str(cfg.key_file) if cfg.key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.on_connect = self._connected
        client.on_disconnect = self._disconnected
        client.on_publish = self._published
        return client

    def connect(self) -> None:
        self.close()
        client = self._new_client()
        self.client = client
        try:
            if self.version == mqtt.MQTTv5:
                client.connect(self.address.host, self.address.port, self.config.keepalive_s, clean_start=True)
            else:
                client.connect(self.address.host, self.address.port, self.config.keepalive_s)
        except (OSError, ssl.SSLError, ValueError):
            self.client = None
            raise

    def loop(self, timeout: float) -> None:
        client = self.client
        if client is None:
            return
        rc = client.loop(timeout=timeout)
        if rc != mqtt.MQTT_ERR_SUCCESS and self.client is client:
            # paho reports most losses through on_disconnect; make sure the agent hears of every one.
            self.client = None
            self.on_disconnect(f"connection lost ({mqtt.error_string(rc)})")

    def publish(self, topic: str, payload: bytes) -> int | None:
        if self.client is None:
            return None
        info = self.client.publish(topic, payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return None
        return int(info.mid)

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                client.disconnect()
                client.loop(timeout=0.01)
            except (OSError, ValueError):
                log.debug("closing the MQTT connection failed", exc_info=True)

    # --- paho callbacks (called from loop(), on the agent's thread) -----------------------------------

    def _connected(self, client: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        if client is not self.client:
            return
        if rc.is_failure:
            reason = str(rc)
            if self.version == mqtt.MQTTv5 and rc.value == 0x84:  # unsupported protocol version: e.g. amqtt
                log.warning("broker %s does not speak MQTT 5: falling back to MQTT 3.1.1 "
                            "(a refused publish is then acknowledged silently)", self.address.url)
                self.version = mqtt.MQTTv311
            self.client = None
            self.on_connect(False, reason)
            return
        self.on_connect(True, "connected")

    def _disconnected(self, client: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        if client is not self.client:
            return
        self.client = None
        self.on_disconnect(str(rc))

    def _published(self, client: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: object) -> None:
        if client is not self.client:
            return
        self.on_ack(mid, not rc.is_failure, int(rc.value), str(rc))


class DryRunTransport:
    """Prints each message that would be sent and acknowledges it at once.

    ``loop(timeout)`` waits ``timeout`` when it has nothing to hand back, as a network loop waits for
    traffic: without that wait the agent loop spins, starving the reader thread (a P1 port) of the CPU.
    """

    description = "dry run (nothing is sent)"

    def __init__(self, write: Callable[[str], object] | None = None,
                 sleep: Callable[[float], object] = time.sleep) -> None:
        self.write = write or (lambda line: print(line, file=sys.stdout, flush=True))
        self.sleep = sleep
        self.on_connect: Callable[[bool, str], None] = _noop
        self.on_disconnect: Callable[[str], None] = _noop
        self.on_ack: Callable[[int, bool, int, str], None] = _noop
        self._mid = 0
        self._acks: list[int] = []
        self._connecting = False

    def connect(self) -> None:
        self._connecting = True

    def loop(self, timeout: float) -> None:
        if self._connecting:
            self._connecting = False
            self.on_connect(True, "dry run")
            return
        acks, self._acks = self._acks, []
        for mid in acks:
            self.on_ack(mid, True, 0, "Success")
        if not acks:
            self.sleep(timeout)

    def publish(self, topic: str, payload: bytes) -> int | None:
        self._mid += 1
        self.write(f"{topic} {payload.decode()}")
        self._acks.append(self._mid)
        return self._mid

    def close(self) -> None:
        pass
