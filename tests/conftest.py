"""Fixtures shared by every tier: free loopback ports and real brokers started per test session."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from energymon.adapters.mqtt.broker import EmbeddedBroker, free_port
from energymon.adapters.mqtt.client import BrokerAddress

# pytest-xdist starts its workers with COLUMNS=80 and LINES=24; rich would freeze every console at 80 columns
# from import on, and the CLI tests that widen the terminal (CliRunner env COLUMNS) would see wrapped tables.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)

# Tests never assert wall-clock times: on a loaded machine (two workers on two cores) a generated example may
# take longer than hypothesis's 200 ms default without anything being wrong.
settings.register_profile("energymon", deadline=None)
settings.load_profile("energymon")


def wait_for_port(host: str, port: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s} s")


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture
def amqtt_broker() -> Iterator[BrokerAddress]:
    """A real amqtt broker in its own process, on a free loopback port."""
    broker = EmbeddedBroker("127.0.0.1", free_port())
    broker.start()
    yield BrokerAddress("127.0.0.1", broker.port)
    broker.stop()


class Mosquitto:
    """A private Mosquitto (Debian's package) on a free port, with a config the test can extend."""

    def __init__(self, workdir: Path, extra_config: str = "", port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.extra_config = extra_config
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> BrokerAddress:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        config = self.workdir / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "persistence false\n"
            f"{self.extra_config or 'allow_anonymous true'}\n"
        )
        self.process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        wait_for_port("127.0.0.1", self.port)
        return BrokerAddress("127.0.0.1", self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """An unstarted private Mosquitto: call ``.start()`` (after setting ``extra_config`` if needed)."""
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        pytest.fail("mosquitto is not installed: .ci/run installs it with apt-get")
    broker = Mosquitto(tmp_path)
    yield broker
    broker.stop()


# The suite runs on two pytest-xdist workers (`make test`). Tests that share one expensive session fixture
# stay on one worker, so it is built once: the Terraform stacks applied to moto (the fleet example and the
# lean one, about half of the Terraform tier's time), and the scratch copy that plans run in.
_SHARED_SESSION_FIXTURES = (
    ("lean_stack", "terraform-lean"),  # first: its IAM test also asks for role_runner
    ("applied_stack", "terraform-stack"),
    ("role_runner", "terraform-stack"),
    ("terraform_plans", "terraform-plans"),
    ("terraform", "terraform-plans"),
    ("host_build", "lambda-package"),
    ("arm_build", "lambda-package"),
)


# tryfirst: pytest-xdist's worker reads the xdist_group marks in its own collection hook (it suffixes each node
# id with its group); marks added after it are never seen, and every test is then scheduled on its own.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        group = next((g for fixture, g in _SHARED_SESSION_FIXTURES if fixture in names), None)
        # Every other test stays with its module: module-scoped fixtures (a runtime, a browser) are built once,
        # and a module's tests run in their file's order, as they do without xdist.
        item.add_marker(pytest.mark.xdist_group(group or item.nodeid.split("::", 1)[0]))
