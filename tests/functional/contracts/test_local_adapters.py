"""The port contracts run against the local adapters (SQLite store/stream/dead letters, folder archive)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from energymon.adapters.local.alerts import SqliteAlerts
from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.store import SqliteStore
from energymon.adapters.local.stream import LocalStream
from functional.contracts.alert_state_contract import *  # noqa: F403
from functional.contracts.archive_contract import *  # noqa: F403
from functional.contracts.deadletters_contract import *  # noqa: F403
from functional.contracts.store_contract import *  # noqa: F403
from functional.contracts.stream_contract import *  # noqa: F403

_n = itertools.count()


@pytest.fixture
def store_factory(tmp_path: Path):  # noqa: ANN201
    return lambda: SqliteStore(tmp_path / f"store-{next(_n)}.db")


@pytest.fixture(params=[1, 4], ids=["1-shard", "4-shards"])
def stream_factory(tmp_path: Path, request: pytest.FixtureRequest):  # noqa: ANN201
    return lambda: LocalStream(tmp_path / f"stream-{next(_n)}.db", shards=request.param)


@pytest.fixture
def archive_factory(tmp_path: Path):  # noqa: ANN201
    def make():  # noqa: ANN202
        root = tmp_path / f"archive-{next(_n)}"
        return FolderArchive(root), lambda key: (root / key).read_bytes()

    return make


@pytest.fixture
def dead_letters_factory(tmp_path: Path):  # noqa: ANN201
    return lambda: SqliteDeadLetters(tmp_path / f"dlq-{next(_n)}.db")


@pytest.fixture
def alerts_factory(tmp_path: Path):  # noqa: ANN201
    return lambda: SqliteAlerts(tmp_path / f"alerts-{next(_n)}.db")
