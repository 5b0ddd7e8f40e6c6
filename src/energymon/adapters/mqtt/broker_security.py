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

* a Will (last will) is a publish the broker makes for the client later, so its topic gets the publish
  rule, checked at CONNECT: a device whose will topic is not its own is not authorized (IoT Core's
  answer too), and a service may set none.

What amqtt cannot do: it speaks MQTT 3.1.1 only, where a refused publish still gets its PUBACK (the
protocol has no way to say no). To make the refusal visible anyway, as IoT Core does, the plugin
disconnects a device that publishes outside its topics (``disconnect_on_violation``).

:class:`SecureBroker` fixes two holes amqtt 0.12 has in the order of its CONNECT handling (see there),
and makes the TLS listener require a client certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass, field
from typing import Any

from amqtt.broker import Broker
from amqtt.contexts import Action
from amqtt.errors import AMQTTError
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin
from amqtt.utils import gen_client_id

__all__ = ["DevicePolicyPlugin", "SecureBroker", "allowed", "will_allowed"]

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


def will_allowed(identity: str | None, will_topic: str | None, services: list[str], topic_root: str) -> bool:
    """Whether ``identity`` may leave a Will on ``will_topic``: exactly the rule for its publishes.

    A topic name, never a filter: amqtt refuses wildcards and ``$`` topics in a PUBLISH before asking the
    policy, but publishes a Will without such checks, so they are refused here.
    """
    if not will_topic or will_topic.startswith("$") or "+" in will_topic or "#" in will_topic:
        return False
    return allowed(identity, will_topic, Action.PUBLISH, services, topic_root)


class DevicePolicyPlugin(BaseTopicPlugin, BaseAuthPlugin):  # type: ignore[misc]
    """Per-device topic rules (identity = the client id the certificate plugin has bound to the certificate).

    Also an authentication plugin, for the Will: amqtt publishes a Will without asking the topic plugins,
    so the only place to apply the publish rule to it is the CONNECT.
    """

    @dataclass
    class Config:
        services: list[str] = field(default_factory=list)
        topic_root: str = "energy"
        disconnect_on_violation: bool = True

    async def authenticate(self, *, session: Any) -> bool | None:
        """False (not authorized) for a Will the client may not publish; otherwise no opinion (None).

        Who the client is stays the certificate plugin's call; amqtt needs every non-None answer True.
        """
        if not getattr(session, "will_flag", False):
            return None
        identity = getattr(session, "client_id", None)
        topic = getattr(session, "will_topic", None)
        if will_allowed(identity, topic, list(self.config.services), self.config.topic_root):
            return None
        log.warning("not authorized: %s may not set a will on %r", identity, topic)
        return False

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


class SecureBroker(Broker):  # type: ignore[misc]
    """amqtt 0.12's ``Broker`` that authenticates a CONNECT before it touches any session, on a listener
    that requires a client certificate.

    amqtt 0.12.1 (``Broker._initialize_client_session``) looks the CONNECT's client id up in its sessions
    *before* ``_handle_client_session`` asks the authentication plugins:

    * with clean session set, it deletes the existing session of that client id (its subscriptions and
      queued messages) — so anyone claiming ``energymon-bridge`` silently unsubscribed the connected
      bridge, and ingestion stopped without a disconnect or a log line, although the claimant was refused;
    * without clean session, it takes the existing session object over, with the *old* connection's TLS
      object (``ssl_object``) still in it, and authenticates that: the certificate plugin then read the
      real bridge's certificate, so a client with no certificate (or apt-1's) was accepted as the bridge,
      kicked it off and received every device's telemetry.

    Here the CONNECT's own session (this connection's certificate, the claimed client id, its Will) is
    authenticated first, by the same plugins; a refused client gets its CONNACK (not authorized) and the
    connection is closed before any session is looked at. Only then are sessions resumed or replaced, as
    amqtt 0.12.1 does it (re-implemented in ``_resume_or_replace``, which also carries the new connection's
    TLS object into a resumed session). amqtt
    authenticates again in ``_handle_client_session``; that second answer is the same.
    """

    @staticmethod
    def _create_ssl_context(listener: Any) -> ssl.SSLContext:
        # amqtt sets CERT_OPTIONAL (a client without a certificate completes the handshake and is refused
        # only at CONNECT, by the certificate plugin). Secure mode has no use for such a client: refuse it
        # in the TLS handshake, before it can send a single MQTT byte.
        context: ssl.SSLContext = Broker._create_ssl_context(listener)
        context.verify_mode = ssl.CERT_REQUIRED
        return context

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> tuple[Any, Any]:
        # Reads and validates the CONNECT (refusing bad ones itself); touches no session.
        try:
            handler, incoming = await BrokerProtocolHandler.init_from_connect(reader, writer, self.plugins_manager)
        except Exception:
            await _close_quietly(writer)
            raise
        if incoming.clean_session and not incoming.client_id:
            incoming.client_id = gen_client_id()
        # amqtt 0.12's _authenticate ignores its listener argument; secure mode has exactly one listener.
        listener = next(iter(self.listeners_config.values()))
        if not await self._authenticate(incoming, listener):
            log.warning("refused %s:%s connecting as %r: not authenticated (no session was touched)",
                        remote_address, remote_port, incoming.client_id)
            with contextlib.suppress(OSError):
                await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
            await _close_quietly(writer)
            # _client_connected catches the AMQTTError family and releases the connection slot.
            raise AMQTTError(f"client {incoming.client_id!r} not authenticated")
        return handler, await self._resume_or_replace(incoming)

    async def _resume_or_replace(self, incoming: Any) -> Any:
        """What amqtt 0.12.1 does with sessions after a CONNECT, run here only once the client is authenticated."""
        session = incoming
        if incoming.clean_session:
            await self._delete_session(incoming.client_id)
            session.parent = 0
        elif incoming.client_id in self._sessions:
            # Resume: the stored session gets this connection's CONNECT settings, and (not in amqtt) its TLS
            # object and address, so that anything asking "who is connected" sees this connection.
            session, _ = self._sessions[incoming.client_id]
            for attribute in ("will_flag", "will_message", "will_topic", "will_qos", "will_retain", "keep_alive",
                              "username", "password", "ssl_object", "remote_address", "remote_port"):
                setattr(session, attribute, getattr(incoming, attribute))
            session.parent = 1
        else:
            session.parent = 0
        delay = self.config.get("timeout-disconnect-delay", 0)
        if session.keep_alive > 0 and isinstance(delay, int):
            session.keep_alive += delay
        return session


async def _close_quietly(writer: Any) -> None:
    """Close a refused client's connection; it may already be gone (then amqtt's error is the one to raise)."""
    with contextlib.suppress(Exception):
        await writer.close()
