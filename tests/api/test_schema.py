"""Schemathesis against the published OpenAPI schema: no 5xx, every answer matches the documented schema."""

from __future__ import annotations

import schemathesis
from apidata import NOW_MS, ZONES, seed
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from energymon.adapters.local.store import SqliteStore
from energymon.api import ApiOptions, create_app


def _app():  # type: ignore[no-untyped-def]
    import tempfile
    from pathlib import Path

    store = SqliteStore(Path(tempfile.mkdtemp(prefix="energymon-schema-")) / "store.db")
    seed(store)
    return create_app(store, ApiOptions(ZONES.__getitem__, clock=lambda: NOW_MS / 1000))


# /api/live streams for ever; its 404 path is covered in test_api.py.
schema = schemathesis.openapi.from_asgi("/openapi.json", _app()).exclude(path="/api/live")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_honours_its_openapi_schema(case) -> None:  # type: ignore[no-untyped-def]
    response = case.call()
    if case.path.startswith("/api/site/energy") and response.status_code == 422:
        # 'from'/'to' are free text in the schema: a range's sense (a time, 'to' after 'from', the span limit)
        # cannot be said there. The device routes answer such cases too, after a 404 for the random device id;
        # the site routes have no path parameter, so their documented 422 is reached. Everything else still holds.
        case.validate_response(response, excluded_checks=[positive_data_acceptance])
        return
    case.validate_response(response)
