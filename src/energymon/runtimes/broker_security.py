"""Secure mode of the embedded broker: IoT Core's device policy, enforced by amqtt.

Authentication is amqtt's own ``UserAuthCertPlugin``: the client must present a certificate signed by
the CA whose SAN URI is ``spiffe://<uri_domain>/device/<id>``, and its MQTT client id must be ``<id>``
(IoT Core: "connect only as client/${ThingName}"). A client without a certificate is refused at CONNECT.

Authorisation is :class:`DevicePolicyPlugin` below, the same rules as the IoT device policy and as
Mosquitto's ``pattern readwrite energy/%u/#``:

* a device may publish only under ``energy/<its id>/`` and may not subscribe (the IoT policy grants no
  iot:Subscribe/iot:Receive);
* a *service* identity (``services``, e.g. the bridge) may subscribe to and receive everything, and
  publish nothing.

What amqtt cannot do: it speaks MQTT 3.1.1 only, where a refused publish still gets its PUBACK (the
protocol has no way to say no). To make the refusal visible anyway, as IoT Core does, the plugin
disconnects a device that publishes outside its topics (``disconnect_on_violation``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from amqtt.contexts import Action
from amqtt.plugins.base import BaseTopicPlugin

__all__ = ["DevicePolicyPlugin", "allowed"]

log = logging.getLogger(__name__)


def allowed(identity: str | None, topic: str | None, action: Action, services: list[str], topic_root: str) -> bool:
    """The policy as a pure function (unit-testable without a broker)."""
    if not identity or not topic:
        return False
    if identity in services:
        return action in (Action.SUBSCRIBE, Action.RECEIVE)
    if action is not Action.PUBLISH:
        return False
    prefix = f"{topic_root}/{identity}/"
    return topic.startswith(prefix) and len(topic) > len(prefix)


class DevicePolicyPlugin(BaseTopicPlugin):  # type: ignore[misc]
    """Per-device topic rules (identity = the client id the certificate plugin has bound to the certificate)."""

    @dataclass
    class Config:
        services: list[str] = field(default_factory=list)
        topic_root: str = "energy"
        disconnect_on_violation: bool = True

    async def topic_filtering(
        self, *, session: Any = None, topic: str | None = None, action: Action | None = None
    ) -> bool:
        identity = getattr(session, "client_id", None)
        if action is None:
            return False
        ok = allowed(identity, topic, action, list(self.config.services), self.config.topic_root)
        if not ok and action is not Action.RECEIVE:
            log.warning("not authorized: %s may not %s %r", identity, action.value, topic)
            if action is Action.PUBLISH and self.config.disconnect_on_violation and session is not None:
                self._disconnect(session)
        return ok

    def _disconnect(self, session: Any) -> None:
        broker = getattr(self.context, "_broker_instance", None)
        entry = broker.sessions.get(session.client_id) if broker is not None else None
        handler = entry[1] if entry else None
        writer = getattr(handler, "writer", None)
        if writer is not None:
            # Close the transport after the current delivery step: the handler's reader then ends the session.
            asyncio.get_running_loop().call_soon(_close, writer)


def _close(writer: Any) -> None:
    try:
        result = writer.close()
        if asyncio.iscoroutine(result):
            asyncio.ensure_future(result)  # noqa: RUF006 - fire and forget on shutdown of one connection
    except Exception:  # noqa: BLE001 - the connection may already be gone
        log.debug("closing a violating connection failed", exc_info=True)
