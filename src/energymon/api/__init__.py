"""The HTTP API and the dashboard, over the read port only (works with any ``StoreReader``)."""

from __future__ import annotations

from energymon.api.app import ApiOptions, create_app
from energymon.api.server import WebServer

__all__ = ["ApiOptions", "WebServer", "create_app"]
