"""Real receivers for alert channels, on free loopback ports: an HTTP server (webhook, ntfy), an SMTP server
(aiosmtpd), and an MQTT subscriber that collects retained state. Imported by the alert delivery tests."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from energymon.adapters.mqtt.broker import free_port
from energymon.adapters.mqtt.client import BrokerAddress, new_client


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class HttpReceiver:
    """Answers each POST with the next status of ``statuses`` (200 once they run out) and records it."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[Received] = []
        self.statuses: list[int] = []
        self.answered: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.answered.append(status)
                if status < 300:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), data))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"broken today\n" if status >= 500 else b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []
        self.refuse_rcpt: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    def __init__(self, **controller: Any) -> None:
        self.mailbox = _Mailbox()
        self.port = free_port()
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port, **controller)
        self.controller.start()

    @property
    def messages(self) -> list[tuple[str, list[str], EmailMessage]]:
        return self.mailbox.messages

    def stop(self) -> None:
        self.controller.stop()


@dataclass
class Subscriber:
    """Connects, subscribes to ``topic_filter``, and returns what the broker holds retained there."""

    broker: BrokerAddress
    messages: dict[str, tuple[bytes, bool]] = field(default_factory=dict)

    def retained(self, topic_filter: str, timeout_s: float = 10.0) -> dict[str, tuple[bytes, bool]]:
        # A marker published after the SUBSCRIBE comes back after every retained message of that subscription
        # (the broker sends those on SUBACK), so when it arrives the retained state is complete: no waiting.
        marker = f"{topic_filter.rstrip('#').rstrip('/')}/zz-marker-{time.monotonic_ns()}"
        done, subscribed = threading.Event(), threading.Event()
        client = new_client(self.broker, f"late-subscriber-{time.monotonic_ns()}")

        def on_message(_c: Any, _u: Any, msg: Any) -> None:
            if msg.topic == marker:
                done.set()
            else:
                self.messages[msg.topic] = (msg.payload, bool(msg.retain))

        client.on_message = on_message
        client.on_subscribe = lambda *_: subscribed.set()
        client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
        client.connect(self.broker.host, self.broker.port)
        client.loop_start()
        try:
            assert subscribed.wait(timeout_s), "no SUBACK"
            client.publish(marker, b"", qos=1)
            assert done.wait(timeout_s), "the marker never came back"
        finally:
            client.disconnect()
            client.loop_stop()
        return dict(self.messages)
