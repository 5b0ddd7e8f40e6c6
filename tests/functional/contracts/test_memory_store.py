"""The store contract run against the smallest backend the port's bases allow (memory_store.py)."""

from __future__ import annotations

import pytest

from functional.contracts.memory_store import MemoryStore
from functional.contracts.store_contract import *  # noqa: F403


@pytest.fixture
def store_factory():  # noqa: ANN201
    return MemoryStore
