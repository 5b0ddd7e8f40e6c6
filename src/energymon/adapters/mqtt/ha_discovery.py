"""Home Assistant MQTT discovery: each device's derived figures as HA entities, over the broker energymon uses.

Follows Home Assistant's documented conventions:

* one retained config per entity on ``<prefix>/<component>/<node_id>/<object_id>/config`` (ids limited to
  ``[a-zA-Z0-9_-]``), with ``unique_id``, a ``device`` block, an ``origin`` block and availability;
* availability birth/LWT style: ``<base>/status`` is ``online`` (retained) while energymon is connected, and
  the broker sets it ``offline`` (the Will) if energymon goes away without a word;
* every config is published again when Home Assistant announces itself on ``<prefix>/status`` = ``online``;
* an entity energymon no longer describes (a retired device, a removed alert rule) is removed with an empty
  retained payload on its config topic.

Because a broker over MQTT 3.1.1 drops a refused publish silently (a Mosquitto ACL does, and still answers
PUBACK), energymon checks after each round of configs that the broker kept them: it subscribes again, and the
retained copies must come back unchanged. Whatever goes wrong is one log line and the ``ha-discovery`` health
component's reason; the pipeline runs on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from energymon import __version__
from energymon.adapters.mqtt.client import BrokerAddress, ClientTLS, new_client

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

    from energymon.application.ha_figures import DeviceFigures
    from energymon.health import Health

__all__ = ["COMPONENT", "HaDiscovery", "HaTopics", "discovery_configs", "held", "node_id", "state_payload"]

log = logging.getLogger(__name__)

COMPONENT = "ha-discovery"  # the health component's name
NODE_PREFIX = "energymon_"
_NOT_ID = re.compile(r"[^a-zA-Z0-9_-]")
_CONFIG_COMPONENTS = ("sensor", "binary_sensor")
_RETAINED_GRACE_S = 0.5  # retained copies follow the SUBACK at once on a working broker
_ORIGIN = {"name": "energymon", "sw_version": __version__}


def _clean(name: str) -> str:
    """``name`` in HA's id characters; a short hash keeps two names that clean alike apart (``a.b`` vs ``a:b``)."""
    clean = _NOT_ID.sub("_", name)
    if clean != name:
        clean += "_" + hashlib.sha256(name.encode()).hexdigest()[:6]
    return clean


def node_id(device_id: str) -> str:
    return NODE_PREFIX + _clean(device_id)


def alert_key(rule: str) -> str:
    return "alert_" + _clean(rule)


@dataclass(frozen=True)
class HaTopics:
    """Where discovery configs go (``prefix``) and where energymon's states and availability live (``base``)."""

    prefix: str = "homeassistant"
    base: str = "energymon"

    @property
    def birth(self) -> str:
        return f"{self.prefix}/status"

    @property
    def availability(self) -> str:
        return f"{self.base}/status"

    def config(self, component: str, device_id: str, object_id: str) -> str:
        return f"{self.prefix}/{component}/{node_id(device_id)}/{object_id}/config"

    def state(self, device_id: str) -> str:
        return f"{self.base}/{_clean(device_id)}/state"

    def device_availability(self, device_id: str) -> str:
        return f"{self.base}/{_clean(device_id)}/availability"

    def config_filters(self) -> list[str]:
        return [f"{self.prefix}/{c}/+/+/config" for c in _CONFIG_COMPONENTS]

    def is_ours(self, topic: str) -> bool:
        """A config topic of energymon's (node ``energymon_…``) under the prefix."""
        parts = topic.split("/")
        return (len(parts) == 5 + self.prefix.count("/") and topic.startswith(self.prefix + "/")
                and parts[-1] == "config" and parts[-3].startswith(NODE_PREFIX) and parts[-4] in _CONFIG_COMPONENTS)


def discovery_configs(figures: DeviceFigures, topics: HaTopics) -> dict[str, dict[str, Any]]:
    """Config topic -> discovery payload for every entity of one device."""
    device_id = figures.device_id
    node = node_id(device_id)
    device = {"identifiers": [node], "name": figures.label or device_id, "manufacturer": "energymon",
              "model": "energymon derived meter", "sw_version": __version__}
    state = topics.state(device_id)
    up = {"topic": topics.availability, "payload_available": "online", "payload_not_available": "offline"}

    def entity(object_id: str, name: str, template: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "unique_id": f"{node}_{object_id}", "object_id": f"{node}_{object_id}",
                "state_topic": state, "value_template": template, "availability": [up],
                "device": device, "origin": _ORIGIN, **extra}

    energy = {"device_class": "energy", "state_class": "total_increasing", "unit_of_measurement": "kWh",
              "suggested_display_precision": 3}
    out = {
        topics.config("sensor", device_id, "energy_import"):
            entity("energy_import", "Energy import", "{{ value_json.import_kwh }}", **energy),
        topics.config("sensor", device_id, "power"):
            entity("power", "Power", "{{ value_json.power_w }}", device_class="power", state_class="measurement",
                   unit_of_measurement="W", suggested_display_precision=0,
                   # Live power only means something while the device reports: unavailable when it is stale.
                   availability=[up, {"topic": topics.device_availability(device_id),
                                      "payload_available": "online", "payload_not_available": "offline"}],
                   availability_mode="all"),
    }
    if figures.export_kwh > 0:
        out[topics.config("sensor", device_id, "energy_export")] = entity(
            "energy_export", "Energy export", "{{ value_json.export_kwh }}", **energy)
    if figures.currency:
        out[topics.config("sensor", device_id, "cost_today")] = entity(
            "cost_today", "Cost today", "{{ value_json.cost_today }}", device_class="monetary", state_class="total",
            unit_of_measurement=figures.currency, suggested_display_precision=2,
            # A total that starts again every local midnight: last_reset says when, as HA's docs ask.
            last_reset_value_template="{{ value_json.cost_since }}")
    for rule in sorted(figures.alerts):
        key = alert_key(rule)
        out[topics.config("binary_sensor", device_id, key)] = entity(
            key, f"Alert {rule}", f"{{{{ value_json['{key}'] }}}}", device_class="problem",
            payload_on="ON", payload_off="OFF")
    return out


def state_payload(figures: DeviceFigures) -> dict[str, Any]:
    """The one JSON state every entity of the device reads its value from."""
    state: dict[str, Any] = {
        "device_id": figures.device_id,
        "import_kwh": figures.import_kwh, "export_kwh": figures.export_kwh, "power_w": figures.power_w,
        "today_import_kwh": figures.today_import_kwh, "cost_today": figures.cost_today,
        "currency": figures.currency, "cost_since": figures.day_start,
    }
    for rule, firing in figures.alerts.items():
        state[alert_key(rule)] = "ON" if firing else "OFF"
    return state


def held(figures: DeviceFigures, marks: dict[str, tuple[float, float]]) -> DeviceFigures:
    """``figures`` with totals never below what was published before (``marks``, updated).

    A late reading can make a recompute lower a stored minute a little; Home Assistant reads any fall of a
    ``total_increasing`` sensor as a new meter and counts the whole value again, the very spike energymon is
    here to prevent. So a total holds at its high-water mark until the derived one passes it again.
    """
    imported, exported = marks.get(figures.device_id, (0.0, 0.0))
    imported, exported = max(imported, figures.import_kwh), max(exported, figures.export_kwh)
    marks[figures.device_id] = (imported, exported)
    if (imported, exported) == (figures.import_kwh, figures.export_kwh):
        return figures
    return replace(figures, import_kwh=imported, export_kwh=exported)


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


class HaDiscovery:
    """One MQTT client that keeps Home Assistant's view of energymon's devices current.

    ``publish(figures)`` is called by the runtime's loop; paho's own thread reconnects and handles Home
    Assistant's birth message. Nothing here raises into the caller for a broker's refusal: it is reported.
    """

    def __init__(self, address: BrokerAddress, topics: HaTopics, *, retired: tuple[str, ...] = (),
                 tls: ClientTLS | None = None, client_id: str = "energymon-ha", health: Health | None = None,
                 confirm_timeout_s: float = 5.0) -> None:
        self.address = address
        self.topics = topics
        self.retired = frozenset(retired)
        self.health = health
        self.confirm_timeout_s = confirm_timeout_s
        tls = tls or ClientTLS()
        self.client: mqtt.Client = new_client(address, client_id, ca_file=tls.ca_file, cert_file=tls.cert_file,
                                              key_file=tls.key_file)
        self.client.will_set(topics.availability, b"offline", qos=1, retain=True)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self.wake = threading.Event()  # set when the configs are due again (connect, HA birth)
        self._configs_due = True
        self._marks: dict[str, tuple[float, float]] = {}  # device -> highest (import, export) kWh published
        self._published: dict[str, bytes] = {}  # config topic -> payload as last sent
        self._retained: dict[str, bytes] = {}  # our config topics as the broker keeps them (retained copies)
        self._refused_filters: list[str] = []
        self._subscribe_mids: dict[int, list[str]] = {}
        self._connack_refused = False
        self._listening = threading.Event()  # the subscriptions made at connect are granted
        self._listening_at = 0.0
        self._connect_mid: int | None = None
        self._cleared: set[str] = set()  # retired devices whose state topics are cleared (since connecting)
        self._retained_sent_at: float | None = None
        self._retained_topic = ""
        self.problem: str | None = None
        self._last_ok = ""
        self.confirmed = 0  # entities whose retained config the broker has confirmed
        self.births = 0

    # ------------------------------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.client.connect_async(self.address.host, self.address.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        """Say ``offline`` (what the Will would say) and leave; the retained configs stay for the next start."""
        if self._connected.is_set():
            info = self.client.publish(self.topics.availability, b"offline", qos=1, retain=True)
            info.wait_for_publish(2.0)
        self.client.disconnect()
        self.client.loop_stop()

    def wait_connected(self, timeout_s: float) -> bool:
        return self._connected.wait(timeout_s)

    # ------------------------------------------------------------------------------------------- publish
    def publish(self, figures: list[DeviceFigures]) -> None:
        """Configs (when due or changed), stale configs cleared, then every device's state and availability."""
        if not self._connected.is_set() or not self._settled():
            return
        with self._lock:
            live = [held(f, self._marks) for f in figures if f.device_id not in self.retired]
        desired: dict[str, bytes] = {}
        for f in live:
            desired |= {t: _dumps(p) for t, p in discovery_configs(f, self.topics).items()}
        with self._lock:
            due = self._configs_due
            self._configs_due = False
            stale = [t for t, p in self._retained.items() if p and t not in desired]
            changed = {t: p for t, p in desired.items() if due or self._published.get(t) != p}
        sent = self._send_configs(changed, stale)
        for f in live:
            self.client.publish(self.topics.device_availability(f.device_id),
                                b"online" if f.online else b"offline", qos=1, retain=True)
            self.client.publish(self.topics.state(f.device_id), _dumps(state_payload(f)), qos=1, retain=True)
        for device_id in self.retired - self._cleared:
            # A retired device's own retained topics go too: nothing of it lingers on the broker.
            self._cleared.add(device_id)
            self.client.publish(self.topics.state(device_id), b"", qos=1, retain=True)
            self.client.publish(self.topics.device_availability(device_id), b"", qos=1, retain=True)
        if sent:
            self._check_retained(desired)

    def _settled(self) -> bool:
        """After (re)connecting, the retained copies (old configs, the last states) must be in before we judge."""
        if not self._listening.wait(self.confirm_timeout_s):
            return False
        time.sleep(max(0.0, self._listening_at + _RETAINED_GRACE_S - time.monotonic()))
        return True

    def _send_configs(self, changed: dict[str, bytes], stale: list[str]) -> bool:
        if not changed and not stale:
            return False
        self._mark_retained(next(iter(changed), stale[0] if stale else ""))
        infos = [self.client.publish(t, p, qos=1, retain=True) for t, p in changed.items()]
        infos += [self.client.publish(t, b"", qos=1, retain=True) for t in stale]
        for info in infos:
            info.wait_for_publish(self.confirm_timeout_s)
        with self._lock:
            self._published.update(changed)
            for t in stale:
                self._published.pop(t, None)
        if stale:
            log.info("home assistant: removed %d entit%s energymon no longer describes", len(stale),
                     "y" if len(stale) == 1 else "ies")
        return True

    def _check_retained(self, desired: dict[str, bytes]) -> None:
        """Subscribe again: the broker sends what it retains; every config must come back as sent."""
        with self._lock:
            self._retained = {}
        self._subscribe(self.topics.config_filters())
        deadline = time.monotonic() + self.confirm_timeout_s
        missing: list[str] = list(desired)
        while time.monotonic() < deadline:
            with self._lock:
                missing = [t for t, p in desired.items() if self._retained.get(t) != p]
                refused = list(self._refused_filters)
            if not missing or refused or not self._connected.is_set():
                break
            time.sleep(0.05)
        if refused:
            self._report(f"the broker at {self.address.url} refuses subscriptions to {', '.join(refused)}; "
                         "energymon cannot check that Home Assistant's discovery configs were kept (check the "
                         f"broker's ACL for {self.topics.prefix}/#)")
        elif not self._connected.is_set():
            return  # _on_disconnect has said why
        elif missing:
            self._report(f"the broker at {self.address.url} did not keep {len(missing)} of {len(desired)} retained "
                         f"discovery configs (first: {missing[0]}): it refuses retained messages or publishing "
                         f"under {self.topics.prefix}/ (check its ACL and retain_available); Home Assistant will "
                         "not discover energymon's sensors")
        else:
            self.confirmed = len(desired)
            self._clear(f"home assistant: {len(desired)} discovery configs retained on {self.topics.prefix}/ at "
                        f"{self.address.url}")

    # ----------------------------------------------------------------------------------- paho callbacks
    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        self._connack_refused = reason.is_failure
        if reason.is_failure:
            self._report(f"the broker at {self.address.url} refused energymon's Home Assistant client: {reason}")
            return
        self._connected.set()
        self._mark_retained(self.topics.availability)
        client.publish(self.topics.availability, b"online", qos=1, retain=True)
        self._connect_mid = self._subscribe([self.topics.birth, *self.topics.config_filters(),
                                             f"{self.topics.base}/+/state"])
        with self._lock:
            self._configs_due = True
            self._cleared = set()
        self.wake.set()

    def _mark_retained(self, topic: str) -> None:
        """A broker that refuses retained messages closes the connection (MQTT 3.1.1 has no other answer)."""
        self._retained_sent_at = time.monotonic()
        self._retained_topic = topic

    def _subscribe(self, filters: list[str]) -> int | None:
        with self._lock:
            self._refused_filters = [f for f in self._refused_filters if f not in filters]
        _, mid = self.client.subscribe([(f, 1) for f in filters])
        if mid is not None:
            with self._lock:
                self._subscribe_mids[mid] = filters
        return mid

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, mid: int, reasons: Any, _props: Any) -> None:
        with self._lock:
            filters = self._subscribe_mids.pop(mid, [])
            refused = [f for f, r in zip(filters, reasons, strict=False) if r.is_failure]
            self._refused_filters += refused
        if mid == self._connect_mid:
            self._listening_at = time.monotonic()
            self._listening.set()
        if self.topics.birth in refused:
            self._report(f"the broker at {self.address.url} refuses a subscription to {self.topics.birth}: "
                         "energymon will not hear Home Assistant restart (configs are still published)")

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        self._listening.clear()
        if not reason.is_failure or self._connack_refused:  # a refused CONNACK has said why
            return
        sent = self._retained_sent_at
        if not was_connected:
            # Closed before CONNACK: Mosquitto does this to a retained Will when retain_available is false.
            self._report(f"the broker at {self.address.url} closes the connection at CONNECT: it refuses retained "
                         f"messages (energymon's Will on {self.topics.availability} is one; retain_available false?) "
                         f"or refuses that topic; Home Assistant discovery needs both; retrying")
        elif sent is not None and time.monotonic() - sent < self.confirm_timeout_s + 1:
            self._report(f"the broker at {self.address.url} closed the connection right after a retained publish "
                         f"({self._retained_topic}): it refuses retained messages (retain_available false) or "
                         "that topic; Home Assistant discovery needs both; retrying")
        else:
            self._report(f"lost the connection to the broker at {self.address.url} ({reason}); retrying")

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self.topics.birth:
            if msg.payload == b"online":
                # Home Assistant (re)started: it has forgotten what it was told; tell it again.
                self.births += 1
                with self._lock:
                    self._configs_due = True
                self.wake.set()
            return
        if msg.retain and self.topics.is_ours(msg.topic):
            with self._lock:
                self._retained[msg.topic] = bytes(msg.payload)
        elif msg.retain and msg.topic.startswith(self.topics.base + "/") and msg.topic.endswith("/state"):
            self._seed_mark(bytes(msg.payload))

    def _seed_mark(self, payload: bytes) -> None:
        """What an earlier run published stays the floor after a restart (the broker kept it, retained)."""
        try:
            state = json.loads(payload)
            device, imported, exported = state["device_id"], float(state["import_kwh"]), float(state["export_kwh"])
        except (ValueError, KeyError, TypeError):
            return  # not one of ours, or from before device_id was in the state: no floor
        with self._lock:
            old = self._marks.get(device, (0.0, 0.0))
            self._marks[device] = (max(old[0], imported), max(old[1], exported))

    # ------------------------------------------------------------------------------------------ reports
    def _report(self, problem: str) -> None:
        """One log line per distinct problem, and the health component's reason."""
        if problem != self.problem:
            log.warning("home assistant discovery: %s", problem)
        self.problem = problem
        if self.health is not None:
            self.health.degraded(COMPONENT, problem)

    def _clear(self, message: str) -> None:
        if message != self._last_ok:
            log.info("%s", message)
            self._last_ok = message
        self.problem = None
        if self.health is not None:
            self.health.ok(COMPONENT)
