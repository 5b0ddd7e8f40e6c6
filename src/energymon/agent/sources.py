"""Meter sources: where the agent's readings come from. Decoding is the domain's (``DECODERS``).

Every source has ``start()``, ``poll() -> list[Reading]`` (non-blocking, called by the agent loop) and
``stop()``. Input that cannot be decoded is logged with its reason and counted in ``rejected`` (by code);
the source keeps running.

* :class:`SimulatorSource` — the seeded apartment model, sampled every second of (optionally sped-up) time.
* :class:`P1Source` — a DSMR P1 port through pyserial: a serial device (``/dev/ttyUSB0``) or any pyserial
  URL, e.g. ``socket://host:port`` for ser2net-style readers; telegrams are cut out of the byte stream with
  dsmr-parser's ``TelegramBuffer`` and decoded by the domain's dsmr decoder (CRC checked).
* :class:`RelaySource` — Tasmota (``tele/+/SENSOR``) or Shelly Gen2 (``+/events/rpc``) messages from the
  home broker, relabelled with the agent's device id (the only topic its certificate may publish to).
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from energymon.adapters.mqtt.client import parse_broker_url
from energymon.domain.decoders import DECODERS, TOPIC_FILTERS, shelly, shelly_gen1, tasmota
from energymon.domain.simulation import Apartment
from energymon.errors import ConfigError, RejectedReading

if TYPE_CHECKING:
    from collections.abc import Callable

    import paho.mqtt.client as mqtt

    from energymon.agent.config import AgentConfig
    from energymon.domain.decoders import Decoder
    from energymon.domain.reading import Reading

__all__ = ["P1Source", "RelaySource", "SimulatorSource", "Source", "build_source"]

log = logging.getLogger(__name__)


class Source(Protocol):
    name: str
    rejected: collections.Counter[str]

    def start(self) -> None: ...
    def poll(self) -> list[Reading]: ...
    def state(self) -> dict[str, object]: ...
    def stop(self) -> None: ...


class _Queued:
    """Readings produced on another thread, handed to the agent loop through a queue."""

    name = "source"

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Reading] = queue.SimpleQueue()
        self.rejected: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()

    def poll(self) -> list[Reading]:
        out = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                return out

    def state(self) -> dict[str, object]:
        return {}

    def _decode(self, decode: Callable[[], list[Reading]], what: str) -> list[Reading]:
        try:
            return decode()
        except RejectedReading as exc:
            self.rejected[exc.code] += 1
            log.warning("%s: rejected %s: %s [%s]", self.name, what, exc.reason, exc.code)
            return []
        except Exception as exc:  # noqa: BLE001 - no payload may stop a reader thread; it is the input's fault
            self.rejected["undecodable"] += 1
            log.warning("%s: rejected %s: could not be decoded (%s: %s) [undecodable]", self.name, what,
                        type(exc).__name__, str(exc)[:200])
            return []


class SimulatorSource:
    """One simulated apartment, sampled every ``1 / speed`` real seconds (1 Hz in simulated time).

    ``clock`` (wall seconds) and ``monotonic`` are injectable; ``speed`` > 1 compresses time for tests
    and demos (the samples' timestamps then run ahead of the wall clock). The energy counter survives a
    restart: it is saved with every buffered batch (``state()``) and restored by ``restore()``.
    """

    name = "simulator"

    def __init__(
        self,
        device_id: str,
        seed: int = 42,
        tz: str = "UTC",
        speed: float = 1.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.apartment = Apartment(device_id, seed, tz)
        self.rejected: collections.Counter[str] = collections.Counter()
        self.speed = speed
        self.clock = clock
        self.monotonic = monotonic
        self._t0_ms = 0
        self._m0 = 0.0
        self._next_ms = 0

    def restore(self, energy_wh: object) -> None:
        if isinstance(energy_wh, int | float):
            self.apartment.energy_wh = float(energy_wh)

    def start(self) -> None:
        self._t0_ms = (int(self.clock()) + 1) * 1000
        self._m0 = self.monotonic()
        self._next_ms = self._t0_ms

    def now_ms(self) -> int:
        return self._t0_ms + int((self.monotonic() - self._m0) * self.speed * 1000)

    def poll(self) -> list[Reading]:
        now = self.now_ms()
        out = []
        while self._next_ms <= now:
            out.append(self.apartment.sample(self._next_ms))
            self._next_ms += 1000
        return out

    def state(self) -> dict[str, object]:
        return {"sim_energy_wh": self.apartment.energy_wh}

    def stop(self) -> None:
        pass


class P1Source(_Queued):
    """DSMR P1 telegrams from a serial port or a TCP reader (any pyserial URL)."""

    name = "p1"

    def __init__(self, url: str, device_id: str, tz: str, baudrate: int = 115_200) -> None:
        super().__init__()
        self.url = url
        self.device_id = device_id
        self.tz = tz
        self.baudrate = baudrate
        self._thread = threading.Thread(target=self._run, name="p1-reader", daemon=True)
        self._decode_dsmr = DECODERS["dsmr"]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def feed(self, telegram: str) -> list[Reading]:
        """Decode one telegram cut from the stream (also used by the reader thread)."""
        payload = telegram.encode("latin-1")
        return self._decode(
            lambda: self._decode_dsmr("", payload, self.tz, device_id=self.device_id, now_ms=int(time.time() * 1000)),
            "P1 telegram",
        )

    def _run(self) -> None:
        import serial
        from dsmr_parser.clients.telegram_buffer import TelegramBuffer

        while not self._stop.is_set():
            try:
                port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=1)
            except (serial.SerialException, OSError, ValueError) as exc:
                log.warning("p1: cannot open %s (%s); retrying in 5 s", self.url, exc)
                self._stop.wait(5)
                continue
            log.info("p1: reading telegrams from %s", self.url)
            telegrams = TelegramBuffer()
            try:
                while not self._stop.is_set():
                    data = port.read(4096)
                    if not data:
                        continue
                    telegrams.append(data.decode("latin-1"))
                    for telegram in telegrams.get_all():
                        for reading in self.feed(telegram):
                            self._queue.put(reading)
            except (serial.SerialException, OSError) as exc:
                log.warning("p1: %s failed (%s); reopening in 5 s", self.url, exc)
                self._stop.wait(5)
            finally:
                port.close()


class RelaySource(_Queued):
    """Tasmota or Shelly Gen2 messages from the home broker, decoded and relabelled as this device."""

    def __init__(
        self,
        fmt: str,
        broker_url: str,
        device_id: str,
        tz: str,
        *,
        local_device: str | None = None,
        channel: int = 0,
        channels: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        super().__init__()
        if fmt not in ("tasmota", "shelly", "shelly-gen1"):
            raise ConfigError(f"relay source must be tasmota, shelly or shelly-gen1, not {fmt!r}")
        self.name = fmt
        self.address = parse_broker_url(broker_url)
        if self.address.tls and ca_file:  # refused here, before the agent runs, not in start()
            from energymon.agent.publisher import check_tls_files

            check_tls_files(Path(ca_file), ca_setting="relay_ca_file",
                            ca_fix="point it at the CA certificate that signed the home broker's")
        self.device_id = device_id
        self.tz = tz
        self.local_device = local_device
        self.ca_file = ca_file
        # Shelly Gen1 publishes each quantity on its own topic: one filter per quantity; the device is level 2.
        filters = shelly_gen1.TOPIC_FILTERS if fmt == "shelly-gen1" else (TOPIC_FILTERS[fmt],)
        if local_device:
            filters = tuple(_with_device(f, local_device) for f in filters if f is not None)
        self.topic_filters: tuple[str, ...] = tuple(f for f in filters if f is not None)
        self.topic_filter = ", ".join(self.topic_filters)
        # A multi-channel device: summed, or one channel (the agent is one device; see Channels).
        if fmt == "shelly":
            self.decoder: Decoder = functools.partial(shelly.decode, channel=channel, channels=channels)
        elif fmt == "shelly-gen1":
            if channels == "sum":
                raise ConfigError("relay_channels: Shelly Gen1 publishes each channel on its own topic; "
                                  "choose a channel number, not sum")
            self.decoder = functools.partial(shelly_gen1.decode, channels=channels or channel)
        else:
            self.decoder = functools.partial(tasmota.decode, channels=channels or "sum")
        self.client: mqtt.Client | None = None

    def handle(self, topic: str, payload: bytes) -> list[Reading]:
        """Decode one local message into readings carrying the agent's device id."""
        readings = self._decode(
            lambda: self.decoder(topic, payload, self.tz, device_id=self.local_device, now_ms=int(time.time() * 1000)),
            f"message on {topic}",
        )
        return [dataclasses.replace(r, device_id=self.device_id) for r in readings]

    def start(self) -> None:
        from energymon.adapters.mqtt.client import new_client

        client_id = f"energymon-relay-{self.name}-{self.device_id}-{os.getpid()}"  # two relays must not collide
        client = new_client(self.address, client_id, ca_file=self.ca_file)
        client.reconnect_delay_set(1, 30)

        def on_connect(c: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
            log.info("%s relay: connected to %s (%s), subscribing to %s", self.name, self.address.url, rc,
                     self.topic_filter)
            c.subscribe([(f, 1) for f in self.topic_filters])

        def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
            for reading in self.handle(msg.topic, bytes(msg.payload)):
                self._queue.put(reading)

        client.on_connect = on_connect
        client.on_message = on_message
        client.connect_async(self.address.host, self.address.port, keepalive=60)
        client.loop_start()
        self.client = client

    def stop(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()


def _with_device(topic_filter: str, device: str) -> str:
    """The filter with its device level (the first ``+``) set to ``device``."""
    return topic_filter.replace("+", device, 1)


def build_source(config: AgentConfig) -> Source:
    if config.source == "simulator":
        return SimulatorSource(config.device_id, config.sim_seed, config.timezone, config.sim_speed)
    if config.source == "p1":
        assert config.p1_url is not None
        return P1Source(config.p1_url, config.device_id, config.timezone, config.p1_baudrate)
    return RelaySource(
        config.source, config.relay_broker_url, config.device_id, config.timezone,
        local_device=config.relay_device, channel=config.relay_channel, channels=config.relay_channels,
        ca_file=str(config.relay_ca_file) if config.relay_ca_file else None,
    )
