"""The local twin of the IoT topic rule: MQTT → durable stream, acknowledged only once stored.

Subscribes with QoS 1 on a persistent session; each message is validated, stamped with the topic's
device id (as the rule's ``topic(2) AS topic_device_id`` does) and appended to the stream. Only after
the stream (or the dead-letter store, for a rejected message) has committed it is the PUBACK sent, so
a crash at any point leaves the message with the broker, to be delivered again.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from energymon.adapters.mqtt.client import BrokerAddress, ClientTLS, new_client
from energymon.domain.reading import (
    Reading,
    check_body,
    device_from_topic,
    encode_message,
    parse_payload,
)
from energymon.errors import RejectedReading
from energymon.health import Health, guarded
from energymon.ports import DeadLetter

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

    from energymon.ports import DeadLetters, Metrics, Stream

__all__ = ["Bridge", "canonical_to_record", "stamp"]

log = logging.getLogger(__name__)

Decoder = Callable[[str, bytes], list[Reading]]


def canonical_to_record(topic: str, payload: bytes, now_ms: int | None = None) -> tuple[str, bytes]:
    """Validate a canonical v1 message and stamp it: (partition key, stream data).

    Every check (and rejection) of the processor's, so a bad sample is refused here with its reason, but no
    reading is built: the processor, which must validate anyway (on AWS no bridge stands before it), builds
    them once from the record."""
    device = device_from_topic(topic)
    if device is None:
        raise RejectedReading(f"topic {topic!r} is not energy/<device_id>/telemetry", "bad_topic")
    check_body(parse_payload(payload), device, now_ms)
    return device, stamp(payload, device)


def stamp(payload: bytes, device: str) -> bytes:
    """The validated message with ``"topic_device_id"`` added as its last member, as the topic rule does.

    Spliced in, not re-encoded: the record is the message plus a few bytes (re-encoding grows numbers such as
    ``1e5``, and refuses nesting orjson reads but will not write), and as the last member it wins over any
    ``topic_device_id`` the device put in itself (JSON parsers keep the last of duplicate keys).
    """
    body = payload.rstrip()
    return body[:-1] + b',"topic_device_id":' + orjson.dumps(device) + b"}"


def decoded_to_record(readings: list[Reading], seq: int) -> tuple[str, bytes]:
    """A message from another format, re-encoded as canonical v1."""
    device = readings[0].device_id
    body = orjson.loads(encode_message(device, seq, readings))
    body["topic_device_id"] = device
    return device, orjson.dumps(body)


class Bridge:
    def __init__(
        self,
        address: BrokerAddress,
        stream: Stream,
        dead_letters: DeadLetters,
        metrics: Metrics,
        *,
        topic_filter: str | tuple[str, ...] = "energy/+/telemetry",
        decoder: Decoder | None = None,
        client_id: str = "energymon-bridge",
        max_batch: int = 500,
        tls: ClientTLS | None = None,
        health: Health | None = None,
    ) -> None:
        self.address = address
        self.stream = stream
        self.dead_letters = dead_letters
        self.metrics = metrics
        # One SUBSCRIBE for every filter (a Shelly Gen1 device publishes each quantity on its own topic).
        self.topic_filters = (topic_filter,) if isinstance(topic_filter, str) else tuple(topic_filter)
        self.topic_filter = ", ".join(self.topic_filters)
        self.decoder = decoder
        self.max_batch = max_batch
        self.connected = threading.Event()
        self.messages = 0
        self.left_with_broker = 0  # messages received but not stored when the bridge stopped
        self.health = health or Health()
        self._queue: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._stop = threading.Event()
        self._stopping = False
        self._connects = 0
        self._writer = threading.Thread(target=guarded("bridge-writer", self._write_loop, self.health),
                                        name="bridge-writer", daemon=True)
        self._seq = int(time.time())
        tls = tls or ClientTLS()
        self.client = new_client(address, client_id, clean_session=False, manual_ack=True,
                                 ca_file=tls.ca_file, cert_file=tls.cert_file, key_file=tls.key_file)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)

    def start(self, timeout_s: float = 15.0) -> None:
        self._writer.start()
        self.health.watch("bridge-writer", self._writer)
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()
        network = getattr(self.client, "_thread", None)  # paho's loop thread: a callback error would end it
        if isinstance(network, threading.Thread):
            self.health.watch("bridge-mqtt", network)
        if not self.connected.wait(timeout_s):
            self.client.loop_stop()
            raise ConnectionError(f"bridge could not connect to {self.address.url} within {timeout_s:.0f} s")

    def stop(self) -> None:
        """Disconnect first (no new messages), then store what was already received."""
        self._stopping = True
        self.health.stopping()
        self.client.disconnect()
        self.client.loop_stop()
        self._stop.set()
        self._writer.join(timeout=30)

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        if reason.is_failure:
            log.error("bridge connection refused by %s: %s", self.address.url, reason)
            self.health.degraded("bridge-mqtt", f"connection refused by {self.address.url}: {reason}")
            return
        self._connects += 1
        if self._connects > 1 and not getattr(flags, "session_present", True):
            # The broker no longer holds our persistent session (restarted without persistence, or the session
            # was taken over): whatever was published while we were away and not queued for us is gone.
            log.warning("bridge reconnected to %s without its session: messages published while it was "
                        "disconnected were not kept for it", self.address.url)
        # Connected only once the broker confirms the subscription (SUBACK): before that, a message
        # published on a first start would find no subscriber and never reach the bridge.
        client.subscribe([(f, 1) for f in self.topic_filters])

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, props: Any = None) -> None:
        refused = [r for r in reasons if getattr(r, "is_failure", False)]
        if refused:
            log.error("bridge subscription to %s refused by %s: %s", self.topic_filter, self.address.url, refused[0])
            self.health.degraded("bridge-mqtt", f"subscription to {self.topic_filter} refused: {refused[0]}")
            return
        self.connected.set()
        self.health.ok("bridge-mqtt")
        log.info("bridge subscribed to %s on %s", self.topic_filter, self.address.url)

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any = None) -> None:
        self.connected.clear()
        if not self._stopping:
            log.warning("bridge disconnected from %s (%s); reconnecting", self.address.url, reason)
            self.health.degraded("bridge-mqtt", f"disconnected from {self.address.url} ({reason}); reconnecting")

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._queue.put(message)

    def _write_loop(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            try:
                first = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._store_until_done(batch)
            except Exception as exc:
                # Unacknowledged, so the broker still has them and delivers them again after a reconnect.
                log.exception("bridge could not settle %d messages; left with the broker", len(batch))
                self.health.degraded("bridge-writer", f"could not settle {len(batch)} messages: {exc}")
        self.left_with_broker += self._queue.qsize()

    def _store_until_done(self, batch: list[mqtt.MQTTMessage]) -> None:
        accepted, rejected = self._convert(batch)
        delay = 0.1
        while True:
            try:
                if accepted:
                    self.stream.put_records(accepted)
                if rejected:
                    self.dead_letters.put(rejected)
                break
            except Exception as exc:
                # Not acknowledged: the broker keeps the messages. Retry while we still hold them.
                if self._stop.is_set():
                    # Stopping: leave them unacknowledged; the broker delivers them again on the next start.
                    log.warning("bridge stopping: %d messages not stored (%s); they stay with the broker",
                                len(batch), exc)
                    self.left_with_broker += len(batch)
                    return
                self.health.degraded("bridge-writer", f"cannot append to the stream: {exc}")
                log.exception("bridge could not append %d messages; retrying in %.1f s", len(batch), delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 10.0)
        self.health.ok("bridge-writer")
        for message in batch:
            if message.qos > 0:
                self.client.ack(message.mid, message.qos)
        self.messages += len(accepted)
        self.metrics.count("bridge_messages", len(accepted))
        if rejected:
            for letter in rejected:
                self.metrics.count("readings_rejected", 1, reason=letter.code)

    def _convert(self, batch: list[mqtt.MQTTMessage]) -> tuple[list[tuple[str, bytes]], list[DeadLetter]]:
        now_ms = int(time.time() * 1000)
        accepted: list[tuple[str, bytes]] = []
        rejected: list[DeadLetter] = []
        for message in batch:
            payload = bytes(message.payload)
            try:
                if self.decoder is None:
                    accepted.append(canonical_to_record(message.topic, payload, now_ms))
                else:
                    readings = self.decoder(message.topic, payload)
                    if not readings:
                        raise RejectedReading("the message decoded to no readings", "schema")
                    self._seq += 1
                    accepted.append(decoded_to_record(readings, self._seq))
            except RejectedReading as exc:
                rejected.append(
                    DeadLetter("bridge", exc.code, exc.reason, payload, message.topic, at_s=now_ms / 1000)
                )
            except Exception as exc:  # noqa: BLE001 - no message may stop the bridge: any other error is its own
                log.warning("bridge: a message on %r could not be decoded (%s: %s); dead-lettered",
                            message.topic, type(exc).__name__, exc)
                reason = f"the message could not be decoded ({type(exc).__name__}: {str(exc)[:200]})"
                rejected.append(DeadLetter("bridge", "undecodable", reason, payload, _printable(message),
                                           at_s=now_ms / 1000))
        return accepted, rejected


def _printable(message: mqtt.MQTTMessage) -> str:
    try:
        return message.topic
    except UnicodeDecodeError:  # paho decodes the topic lazily; a hostile client can send invalid UTF-8
        return repr(bytes(message._topic))  # noqa: SLF001 - the raw topic is all there is
