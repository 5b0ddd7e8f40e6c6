"""The local runtime's composition root: broker, bridge, stream, poller, processor, store, simulators."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from energymon.adapters.local.alert_metrics import AlertGauges
from energymon.adapters.local.alerts import SqliteAlerts
from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.poller import EventSourceMapping, Poller, ShardPoller
from energymon.adapters.local.sqlite import DATA_DIR_FIX, path_problem
from energymon.adapters.local.store import SqliteStore
from energymon.adapters.local.stream import LocalStream
from energymon.adapters.mqtt.bridge import Bridge, Decoder
from energymon.adapters.mqtt.broker import BrokerTLS, EmbeddedBroker, free_port, port_is_free
from energymon.adapters.mqtt.client import BrokerAddress, ClientTLS, parse_broker_url
from energymon.adapters.mqtt.simulator import SimulatedDevice
from energymon.adapters.notify import build_channels
from energymon.application.alert_dispatch import OutboxDispatcher
from energymon.domain.simulation import Apartment
from energymon.errors import StoreError
from energymon.health import ComponentState, Health, guarded
from energymon.processing.compose import (
    build_alert_evaluator,
    build_processor,
    build_query_service,
    instant_rules,
    zone_resolver,
)

if TYPE_CHECKING:
    from pathlib import Path

    from energymon.adapters.mqtt.ha_discovery import HaDiscovery
    from energymon.api import WebServer
    from energymon.config import Settings

__all__ = ["LocalRuntime", "DeviceStatus", "LocalAdapters", "StopReport"]

log = logging.getLogger(__name__)

CONSUMER = "processor"
_DISPATCH_INTERVAL_S = 2.0  # a notification waits at most this long for its first attempt
BRIDGE_IDENTITY = "energymon-bridge"


@dataclass(frozen=True)
class SecureFiles:
    """Secure mode's files: the broker's TLS settings and each client's certificate, by identity."""

    certs_dir: Path
    ca_file: Path
    broker: BrokerTLS
    clients: dict[str, ClientTLS]
    made: bool

    def client(self, identity: str) -> ClientTLS:
        return self.clients[identity]


def secure_files(certs_dir: Path, broker_host: str, devices: list[str]) -> SecureFiles:
    """The local CA, the broker's certificate and one per identity (bridge, devices), made if missing."""
    from energymon.deploy.certs import ensure_ca, ensure_device

    made = not (certs_dir / "ca.crt").exists()
    names = tuple(dict.fromkeys(("localhost", "127.0.0.1", broker_host)))
    paths = ensure_ca(certs_dir, names)
    ca = str(paths.ca_cert)
    clients = {}
    for identity in (BRIDGE_IDENTITY, *devices):
        cert = ensure_device(paths, identity)
        clients[identity] = ClientTLS(ca, str(cert.cert), str(cert.key))
    broker = BrokerTLS(ca, str(paths.server_cert), str(paths.server_key), services=(BRIDGE_IDENTITY,))
    return SecureFiles(certs_dir, paths.ca_cert, broker, clients, made)


class LocalAdapters:
    """Every local adapter, opened on one data directory (shared by the runtime and the CLI)."""

    def __init__(self, settings: Settings) -> None:
        data = settings.data_dir
        try:
            data.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data directory {data}: "
                             f"{path_problem(data, exc, folder=True)}; {DATA_DIR_FIX}") from exc
        self.data_dir: Path = data
        self.stream = LocalStream(data / "stream.db", settings.shards, settings.retention_hours)
        self.store = SqliteStore(data / "store.db")
        self.archive = FolderArchive(data / "archive")
        self.dead_letters = SqliteDeadLetters(data / "deadletters.db",
                                              max_bytes=int(settings.dead_letter_max_mb * 1024 * 1024),
                                              max_age_s=settings.dead_letter_max_age_days * 86_400)
        self.metrics = PrometheusMetrics()
        self.shared = settings.shared_settings()
        self.zones = zone_resolver(self.shared)
        # Alerts: state, history and outbox in alerts.db; instant rules run in the processor (only if any exist).
        self.alerts = SqliteAlerts(data / "alerts.db")
        self.alert_evaluator = build_alert_evaluator(self.shared, self.alerts, self.store, self.metrics)
        self.metrics.registry.register(AlertGauges(self.alerts, self.alerts))
        # Delivery: the outbox's rows go out through the configured channels, each retried on its own.
        self.dispatcher = OutboxDispatcher(self.alerts, build_channels(self.shared.alerts.channel_models()),
                                           self.metrics)
        self.processor = build_processor(self.shared, self.store, self.archive, self.dead_letters, self.metrics,
                                         alerts=instant_rules(self.alert_evaluator))


def start_web(settings: Settings, adapters: LocalAdapters, health: Health | None = None) -> WebServer:
    """The HTTP API and dashboard over the local adapters (``note`` says if the port was taken)."""
    from energymon.api import ApiOptions, WebServer, create_app

    options = ApiOptions(
        adapters.zones, api_token=settings.api_token, registry=adapters.metrics.registry,
        dead_letters=adapters.dead_letters, stream_lag=lambda: adapters.stream.lag(CONSUMER),
        tariff=adapters.shared.default_tariff(), tariffs=adapters.shared.tariff_of, health=health,
    )
    options.alerts = adapters.alert_evaluator
    web = WebServer(create_app(adapters.store, options), settings.web_host, settings.web_port,
                    api_token=settings.api_token)
    web.start()
    return web


@dataclass(frozen=True)
class StopReport:
    """What a stop could not finish, and where those messages still are."""

    left_with_broker: int  # received by the bridge but not stored: the broker delivers them again
    drained: bool  # False: records are still in the stream, processed on the next start
    stream_path: Path

    @property
    def clean(self) -> bool:
        return self.left_with_broker == 0 and self.drained


@dataclass(frozen=True)
class DeviceStatus:
    device_id: str
    power_w: float | None
    today_kwh: float
    readings: int
    last_seen_s: float | None


class LocalRuntime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.adapters = LocalAdapters(settings)
        self.broker: EmbeddedBroker | None = None
        self.address: BrokerAddress | None = None
        self.note = ""
        self.secure: SecureFiles | None = None
        self.simulators: list[SimulatedDevice] = []
        mapping = EventSourceMapping(
            batch_size=settings.batch_size,
            batching_window_s=settings.batching_window_s,
            bisect_on_error=settings.bisect_on_error,
            max_retry_attempts=settings.max_retry_attempts,
            max_record_age_s=settings.max_record_age_s,
        )
        a = self.adapters
        self.health = Health()
        self.poller = Poller(
            [
                ShardPoller(a.stream, shard, a.processor.handle, mapping, a.dead_letters, a.metrics, CONSUMER,
                            health=self.health)
                for shard in a.stream.shard_ids()
            ]
        )
        self.bridge: Bridge | None = None
        self.ha: HaDiscovery | None = None
        self._trimmer = threading.Event()
        self.web: WebServer | None = None

    def start(self) -> None:
        s = self.settings
        if s.broker_url:
            self.address = parse_broker_url(s.broker_url)
            self.note = f"using the broker at {self.address.url}"
        else:
            port = s.broker_port
            if port == 0 or not port_is_free(s.broker_host, port):
                chosen = free_port(s.broker_host)
                if port:
                    self.note = (
                        f"port {port} on {s.broker_host} is taken (another MQTT broker?); "
                        f"the embedded broker listens on port {chosen} instead"
                    )
                port = chosen
            if s.secure:
                assert s.certs_dir is not None
                devices = [f"apt-{i}" for i in range(1, s.simulate + 1)]
                self.secure = secure_files(s.certs_dir, s.broker_host, devices)
            self.broker = EmbeddedBroker(s.broker_host, port, self.secure.broker if self.secure else None)
            self.broker.start()
            self.address = BrokerAddress(s.broker_host, port, tls=self.secure is not None)
            self.note = self.note or f"embedded broker on {self.address.url}"
        decoder = None
        topic_filter: str | tuple[str, ...] = "energy/+/telemetry"
        if s.source != "canonical":
            decoder, topic_filter = self._decoder(s.source)
        self.bridge = Bridge(self.address, self.adapters.stream, self.adapters.dead_letters, self.adapters.metrics,
                             topic_filter=topic_filter, decoder=decoder,
                             client_id=BRIDGE_IDENTITY, tls=self._client_tls(BRIDGE_IDENTITY), health=self.health)
        self.bridge.start()
        self.poller.start()
        for i in range(1, s.simulate + 1):
            apartment = Apartment(f"apt-{i}", s.seed, self.adapters.zones(f"apt-{i}"))
            device = SimulatedDevice(apartment, self.address, s.publish_interval_s, s.data_dir / "simulators",
                                     client_id=f"apt-{i}" if self.secure else None,
                                     tls=self._client_tls(f"apt-{i}"))
            device.start()
            self.health.watch(f"simulator-{apartment.device_id}", device.thread)
            self.simulators.append(device)
        trimmer = threading.Thread(target=guarded("stream-trim", self._trim_loop, self.health), name="stream-trim",
                                   daemon=True)
        trimmer.start()
        self.health.watch("stream-trim", trimmer)
        alerts = threading.Thread(target=guarded("alerts", self._alerts_loop, self.health), name="alerts",
                                  daemon=True)
        alerts.start()
        self.health.watch("alerts", alerts)
        dispatch = threading.Thread(target=guarded("alert-dispatch", self._dispatch_loop, self.health),
                                    name="alert-dispatch", daemon=True)
        dispatch.start()
        self.health.watch("alert-dispatch", dispatch)

        maintainer = threading.Thread(target=guarded("maintenance", self._maintenance_loop, self.health),
                                      name="maintenance", daemon=True)
        maintainer.start()
        self.health.watch("maintenance", maintainer)
        if s.home_assistant.discovery:
            self._start_ha_discovery()
        self.web = start_web(self.settings, self.adapters, self.health)
        if self.web.thread is not None:
            self.health.watch("web", self.web.thread)
        self._write_runtime_file()

    def failures(self) -> list[ComponentState]:
        """Components whose thread has died: the runtime must not run on without them."""
        return self.health.failures()

    def _client_tls(self, identity: str) -> ClientTLS | None:
        return self.secure.client(identity) if self.secure else None

    def _decoder(self, source: str) -> tuple[Decoder, tuple[str, ...]]:
        from energymon.adapters.mqtt.sources import SourceOptions, bridge_decoder

        return bridge_decoder(source, self.adapters.zones, SourceOptions.from_dict(self.settings.source_options))

    def _write_runtime_file(self) -> None:
        assert self.address is not None
        info = {"pid": os.getpid(), "broker_url": self.address.url, "started_at": time.time(),
                "web_url": self.web.url if self.web else None}
        if self.secure:
            info |= {"ca_file": str(self.secure.ca_file.resolve()), "certs_dir": str(self.secure.certs_dir.resolve())}
        path = self.settings.data_dir / "runtime.json"
        path.write_text(json.dumps(info))

    def _trim_loop(self) -> None:
        while not self._trimmer.wait(60):
            try:
                self.adapters.stream.trim()
                self.health.ok("stream-trim")
            except Exception as exc:
                self.health.degraded("stream-trim", f"cannot trim the stream: {exc}")
                log.exception("stream trim failed")

    def _alerts_loop(self) -> None:
        """Time-driven alert rules (no_data, base load, budgets, unusual days), as of the clock."""
        while not self._trimmer.wait(self.settings.alerts_interval_s):
            try:
                self.adapters.alert_evaluator.evaluate_scheduled(time.time())
                self.health.ok("alerts")
            except Exception as exc:
                self.health.degraded("alerts", f"cannot evaluate the alert rules: {exc}")
                log.exception("alert evaluation failed")

    def _start_ha_discovery(self) -> None:
        from energymon.adapters.mqtt.ha_discovery import COMPONENT, HaDiscovery, HaTopics

        assert self.address is not None
        ha = self.settings.home_assistant
        self.ha = HaDiscovery(self.address, HaTopics(ha.prefix, ha.base_topic), retired=tuple(ha.retired),
                              health=self.health)
        self.ha.start()
        thread = threading.Thread(target=guarded(COMPONENT, self._ha_loop, self.health), name=COMPONENT, daemon=True)
        thread.start()
        self.health.watch(COMPONENT, thread)

    def _ha_loop(self) -> None:
        """Every interval (or at once when Home Assistant comes online): the derived figures, to Home Assistant."""
        from energymon.application.ha_figures import device_figures

        assert self.ha is not None
        queries = build_query_service(self.adapters.shared, self.adapters.store)
        evaluator = self.adapters.alert_evaluator
        while not self._trimmer.is_set():
            self.ha.wake.clear()
            try:
                self.ha.publish(device_figures(queries, evaluator.statuses(), self.adapters.shared.label_of))
            except Exception as exc:
                self.health.degraded("ha-discovery", f"cannot publish to Home Assistant: {exc}")
                log.exception("home assistant publish failed")
            self.ha.wake.wait(self.settings.home_assistant.interval_s)

    def _dispatch_loop(self) -> None:
        self.adapters.dispatcher.run(self._trimmer, interval_s=_DISPATCH_INTERVAL_S)

    # Retention and compaction once an hour (and a minute after start): a purge of a day's readings takes
    # well under a second, and a closed day's archive files are merged soon after midnight UTC.
    MAINTENANCE_INTERVAL_S = 3600.0
    MAINTENANCE_FIRST_DELAY_S = 60.0

    def _maintenance_loop(self) -> None:
        from energymon.adapters.local.maintenance import maintain

        wait = self.MAINTENANCE_FIRST_DELAY_S
        while not self._trimmer.wait(wait):
            wait = self.MAINTENANCE_INTERVAL_S
            try:
                report = maintain(self.adapters.store, self.adapters.archive, self.settings.raw_retention_days)
                self.health.ok("maintenance")
                if report.purged_readings or report.archive_files_merged:
                    log.info("maintenance: %s", "; ".join(report.lines()))
            except Exception as exc:
                self.health.degraded("maintenance", f"cannot apply retention and compaction: {exc}")
                log.exception("maintenance failed")

    def stop(self) -> StopReport:
        """Stop the sources, then let every accepted message reach the store before exiting."""
        self.health.stopping()
        self._trimmer.set()
        if self.web:
            self.web.stop()
        for device in self.simulators:
            device.stop()
        if self.bridge:
            self._wait_for_bridge()
            self.bridge.stop()
        if self.ha:
            self.ha.stop()
        drained = self.poller.stop(drain=True)
        self.adapters.dispatcher.run_once()  # what the last batches raised goes out now, not at the next start
        if self.broker:
            self.broker.stop()
        try:
            (self.settings.data_dir / "runtime.json").unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not remove runtime.json: %s", exc)
        return StopReport(self.bridge.left_with_broker if self.bridge else 0, drained,
                          self.adapters.data_dir / "stream.db")

    def _wait_for_bridge(self, timeout_s: float = 10.0) -> None:
        """Give in-flight simulator messages a moment to reach the bridge."""
        assert self.bridge is not None
        deadline = time.monotonic() + timeout_s
        last = -1
        while time.monotonic() < deadline:
            seen = self.bridge.messages
            if seen == last:
                return
            last = seen
            time.sleep(0.5)

    def status(self) -> list[DeviceStatus]:
        """One line per device for the status table: its latest power and today's energy, from the read side."""
        queries = build_query_service(self.adapters.shared, self.adapters.store)
        return [DeviceStatus(d.device_id, d.power_w, queries.energy_today_kwh(d.device_id), d.readings,
                             d.last_seen_age_s) for d in queries.devices()]

    def lag(self) -> int:
        return self.adapters.stream.lag(CONSUMER)
