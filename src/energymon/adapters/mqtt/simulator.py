"""A simulated meter on MQTT: publishes one :class:`~energymon.domain.simulation.Apartment` in real time."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from typing import TYPE_CHECKING

from energymon.adapters.mqtt.client import BrokerAddress, ClientTLS, new_client
from energymon.domain.reading import encode_message, telemetry_topic

if TYPE_CHECKING:
    from pathlib import Path

    from energymon.domain.reading import Reading
    from energymon.domain.simulation import Apartment

__all__ = ["SimulatedDevice"]

log = logging.getLogger(__name__)


class SimulatedDevice:
    """Publishes one apartment's samples in real time: 1 s sampling, ``publish_interval_s`` per message."""

    def __init__(
        self,
        apartment: Apartment,
        address: BrokerAddress,
        publish_interval_s: float = 5.0,
        state_dir: Path | None = None,
        *,
        client_id: str | None = None,
        tls: ClientTLS | None = None,
    ) -> None:
        self.apartment = apartment
        self.address = address
        self.publish_interval_s = publish_interval_s
        self.state_file = state_dir / f"{apartment.device_id}.json" if state_dir else None
        self.published = 0
        self.seq = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sim-{apartment.device_id}", daemon=True)
        tls = tls or ClientTLS()
        # Secure mode: client id = device id, as the certificate plugin (and IoT Core) requires.
        self.client = new_client(address, client_id or f"sim-{apartment.device_id}",
                                 ca_file=tls.ca_file, cert_file=tls.cert_file, key_file=tls.key_file)
        self._restore()

    def _restore(self) -> None:
        # The meter's counter survives a restart of the reader, so the simulation's does too.
        if self.state_file and self.state_file.exists():
            state = json.loads(self.state_file.read_text())
            self.apartment.energy_wh = float(state["energy_wh"])
            self.seq = int(state["seq"])

    def _save(self) -> None:
        if self.state_file:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({"energy_wh": self.apartment.energy_wh, "seq": self.seq}))
            tmp.replace(self.state_file)

    @property
    def thread(self) -> threading.Thread:
        return self._thread

    def start(self) -> None:
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    def _run(self) -> None:
        pending: list[Reading] = []
        next_publish = time.time() + self.publish_interval_s
        next_sample = math.floor(time.time()) + 1.0
        while not self._stop.is_set():
            self._stop.wait(max(0.0, next_sample - time.time()))
            pending.append(self.apartment.sample(int(next_sample * 1000)))
            next_sample += 1.0
            if next_sample >= next_publish or self._stop.is_set():
                self._publish_safely(pending)
                pending = []
                next_publish += self.publish_interval_s
        if pending:
            self._publish_safely(pending)

    def _publish_safely(self, readings: list[Reading]) -> None:
        # A simulated meter keeps metering whatever fails around it (a full disk for its state file).
        try:
            self._publish(readings)
        except Exception:
            log.exception("simulator %s could not publish %d readings", self.apartment.device_id, len(readings))

    def _publish(self, readings: list[Reading]) -> None:
        if not readings:
            return
        self.seq += 1
        payload = encode_message(self.apartment.device_id, self.seq, readings)
        info = self.client.publish(telemetry_topic(self.apartment.device_id), payload, qos=1)
        if info.rc:
            log.warning("simulator %s: publish queued while offline (%s)", self.apartment.device_id, info.rc)
        self.published += len(readings)
        self._save()
