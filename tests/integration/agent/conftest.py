"""Fixtures for the device agent: a local PKI readable by the broker user."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_support import BRIDGE, Pki

from energymon.deploy.certs import ensure_ca, ensure_device


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A directory the `mosquitto` user can read (Mosquitto starts as root and drops privileges)."""
    path = Path(tempfile.mkdtemp(prefix="energymon-agent-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def pki(world_dir: Path) -> Pki:
    certs = world_dir / "certs"
    paths = ensure_ca(certs)
    devices = {d: ensure_device(paths, d) for d in ("apt-1", "apt-2", BRIDGE)}
    certs.chmod(0o755)
    for f in certs.iterdir():  # tests only: the broker runs as another user
        f.chmod(0o644)
    return Pki(paths, devices)


