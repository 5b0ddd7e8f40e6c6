"""A SQLite store seeded with known data, a fixed clock, and the app over it."""

from __future__ import annotations

from pathlib import Path

import pytest
from apidata import NOW_MS, ZONES, seed

from energymon.adapters.local.store import SqliteStore
from energymon.api import ApiOptions, create_app


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "store.db")
    seed(s)
    return s


@pytest.fixture
def client(store: SqliteStore):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    app = create_app(store, ApiOptions(ZONES.__getitem__, clock=lambda: NOW_MS / 1000, online_within_s=600))
    with TestClient(app) as c:
        yield c
