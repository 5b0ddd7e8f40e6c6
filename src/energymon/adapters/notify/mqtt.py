"""A retained MQTT topic per (rule, device), ``energymon/alerts/<rule>/<device>``, holding the current state.

Firing, flapping and resolved bodies are all published retained (QoS 1), so a subscriber that connects later
still reads the current state of every alert; ``test`` notifications are not retained (they are no state).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import orjson

from energymon.adapters.mqtt.client import new_client, parse_broker_url
from energymon.adapters.notify.base import Channel, DeliveryError

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

    from energymon.adapters.notify.config import MqttChannelSettings

__all__ = ["MqttChannel", "alert_topic"]


def alert_topic(prefix: str, rule: str, device_id: str) -> str:
    """One topic level each; characters MQTT gives a meaning (``/ + #``) would split or break it."""
    return f"{prefix}/{_level(rule)}/{_level(device_id)}"


def _level(text: str) -> str:
    return "".join("_" if c in "/+#\0" else c for c in text) or "_"


class MqttChannel(Channel):
    kind = "mqtt"

    def __init__(self, settings: MqttChannelSettings, client_id: str = "energymon-alerts") -> None:
        super().__init__(settings.name, settings.quiet_hours)
        self.settings = settings
        self.client_id = client_id
        address = parse_broker_url(settings.broker)
        if settings.username is not None:
            from dataclasses import replace

            address = replace(address, username=settings.username,
                              password=settings.password.get_secret_value() if settings.password else None)
        self.address = address

    def send(self, body: dict[str, Any]) -> None:
        s = self.settings
        topic = alert_topic(s.topic_prefix, str(body.get("rule", "")), str(body.get("device_id", "")))
        retain = s.retain and body.get("state") != "test"
        # The client id is unique per process and thread: a broker drops the older of two same-id connections.
        # One short connection per notification: alerts are rare and a connection that is always open would need
        # its own reconnect loop; a lost connection here is just a failed send the outbox retries.
        client = new_client(self.address, f"{self.client_id}-{os.getpid()}-{threading.get_ident()}", ca_file=s.ca_file,
                            cert_file=s.cert_file, key_file=s.key_file)
        connected = threading.Event()
        refused: list[str] = []

        def on_connect(_c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if reason.is_failure:
                refused.append(str(reason))
            connected.set()

        client.on_connect = on_connect
        try:
            client.connect(self.address.host, self.address.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise DeliveryError(f"MQTT broker {self.address.url} unreachable: {exc}") from None
        client.loop_start()
        try:
            if not connected.wait(s.timeout_s):
                raise DeliveryError(f"MQTT broker {self.address.url} did not answer within {s.timeout_s:g} s")
            if refused:
                raise DeliveryError(f"MQTT broker {self.address.url} refused the connection: {refused[0]}")
            info = client.publish(topic, orjson.dumps(body), qos=1, retain=retain)
            info.wait_for_publish(s.timeout_s)
            if not info.is_published():
                raise DeliveryError(f"MQTT broker {self.address.url} did not acknowledge {topic} within "
                                    f"{s.timeout_s:g} s")
        except RuntimeError as exc:  # paho: the connection dropped while publishing
            raise DeliveryError(f"MQTT broker {self.address.url}: {exc}") from None
        finally:
            client.disconnect()
            client.loop_stop()

    def target(self) -> str:
        return f"{self.address.url} {self.settings.topic_prefix}/<rule>/<device>"
