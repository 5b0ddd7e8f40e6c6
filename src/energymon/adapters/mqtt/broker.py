"""The embedded MQTT broker (amqtt), run in its own process so it never competes with the pipeline's GIL."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["BrokerTLS", "EmbeddedBroker", "port_is_free", "free_port"]

log = logging.getLogger(__name__)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class BrokerTLS:
    """Secure mode: TLS with client certificates from ``ca_file``'s CA and IoT Core's per-device topic rules.

    See :mod:`energymon.adapters.mqtt.broker_security`; ``energymon certs`` makes the files.
    """

    ca_file: str
    cert_file: str
    key_file: str
    uri_domain: str = "energymon.local"
    services: tuple[str, ...] = ("energymon-bridge",)

    def args(self) -> list[str]:
        out = ["--ca-file", self.ca_file, "--cert-file", self.cert_file, "--key-file", self.key_file,
               "--uri-domain", self.uri_domain]
        for service in self.services:
            out += ["--service", service]
        return out


def broker_config(host: str, port: int, tls: BrokerTLS | None = None) -> dict[str, Any]:
    if tls is not None:
        listener = {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 1000, "ssl": True,
                    "cafile": tls.ca_file, "certfile": tls.cert_file, "keyfile": tls.key_file}
        return {
            "listeners": {"default": listener},
            "plugins": {
                "amqtt.contrib.cert.UserAuthCertPlugin": {"uri_domain": tls.uri_domain},
                "energymon.adapters.mqtt.broker_security.DevicePolicyPlugin": {"services": list(tls.services)},
            },
        }
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"{host}:{port}", "max_connections": 1000}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }


async def _serve(host: str, port: int, tls: BrokerTLS | None = None) -> None:
    # Imported here: amqtt is loaded only in the broker's own process.
    from amqtt.broker import Broker

    if tls is not None:
        # Secure mode: amqtt's Broker with authentication before any session is touched, and a listener
        # that requires a client certificate (why: energymon.adapters.mqtt.broker_security.SecureBroker).
        from energymon.adapters.mqtt.broker_security import SecureBroker

        broker: Broker = SecureBroker(broker_config(host, port, tls))
    else:
        broker = Broker(broker_config(host, port, tls))
    await broker.start()
    print(f"ready {'mqtts' if tls else 'mqtt'}://{host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await broker.shutdown()


def _die_with_parent() -> None:
    """Linux: the broker must not outlive a runtime that was SIGKILLed."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class EmbeddedBroker:
    """Starts ``python -m energymon.adapters.mqtt.broker`` and waits until it accepts connections."""

    def __init__(self, host: str = "127.0.0.1", port: int = 1883, tls: BrokerTLS | None = None) -> None:
        self.host = host
        self.port = port
        self.tls = tls
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "energymon.adapters.mqtt.broker", "--host", self.host, "--port", str(self.port),
             *(self.tls.args() if self.tls else [])],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, safe before exec
            # Out of the terminal's process group: Ctrl-C must reach only the runtime, which stops the
            # broker itself after the bridge has drained (else the simulators' last messages are lost).
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError(f"embedded broker did not start on {self.host}:{self.port}")
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex((self.host, self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"embedded broker is not accepting connections on {self.host}:{self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="energymon embedded MQTT broker (amqtt)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--ca-file", help="secure mode: CA of the device certificates (with --cert-file, --key-file)")
    parser.add_argument("--cert-file")
    parser.add_argument("--key-file")
    parser.add_argument("--uri-domain", default="energymon.local")
    parser.add_argument("--service", action="append", default=[], help="identity allowed to subscribe to everything")
    args = parser.parse_args()
    services = tuple(args.service) or ("energymon-bridge",)
    tls = BrokerTLS(args.ca_file, args.cert_file, args.key_file, args.uri_domain, services) if args.ca_file else None
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    asyncio.run(_serve(args.host, args.port, tls))


if __name__ == "__main__":
    main()
