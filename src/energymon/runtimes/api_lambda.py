"""The hosted read API: the same FastAPI app as ``energymon serve`` (``energymon.api.create_app``), as a Lambda
behind an API Gateway HTTP API (payload format 2.0), over the AWS read adapters.

Terraform (infra/terraform/modules/read_api) sets exactly :data:`ENVIRONMENT`. The token is never in the
function's configuration: only its SHA-256 (Terraform's ``sha256()``), compared in constant time. Mangum
translates API Gateway events to ASGI and back. Responses are buffered there, so ``/api/live`` (server-sent
events) answers 501 and the dashboard polls instead.
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING, Any

from energymon.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fastapi import FastAPI

    from energymon.runtimes.aws_read import DeviceSettings

__all__ = ["ENVIRONMENT", "build_app", "handler"]

ENVIRONMENT = (
    "ENERGYMON_TABLE_NAME",
    "ENERGYMON_API_TOKEN_SHA256",
    "ENERGYMON_ARCHIVE_BUCKET",
    "ENERGYMON_SETTINGS_KEY",
    "ENERGYMON_SETTINGS_SHA256",
    "POWERTOOLS_LOG_LEVEL",
)


def _require(environ: Mapping[str, str]) -> dict[str, str]:
    missing = [name for name in ENVIRONMENT if not environ.get(name)]
    if missing:
        raise ConfigError(f"environment variable {', '.join(missing)} is not set (the read API needs all of "
                          f"{', '.join(ENVIRONMENT)}; it never serves without a token)")
    env = {name: environ[name] for name in ENVIRONMENT}
    if not re.fullmatch(r"[0-9a-f]{64}", env["ENERGYMON_API_TOKEN_SHA256"]):
        raise ConfigError("ENERGYMON_API_TOKEN_SHA256 must be the token's SHA-256 as 64 lower-case hex digits")
    return env


def build_app(environ: Mapping[str, str] | None = None, session: Any = None,
              device_settings: DeviceSettings | None = None) -> FastAPI:
    """The app over the table named by the environment; ``session`` and ``device_settings`` are for tests."""
    env = _require(os.environ if environ is None else environ)
    import boto3

    from energymon.adapters.aws.settings_object import load_shared_settings
    from energymon.runtimes.aws_read import open_aws_read

    logging.getLogger("energymon").setLevel(env["POWERTOOLS_LOG_LEVEL"].upper())
    session = session or boto3.session.Session()
    # The processor's own settings document: the same zones, tariffs and labels on the read side.
    shared = load_shared_settings(session.client("s3"), env["ENERGYMON_ARCHIVE_BUCKET"],
                                  env["ENERGYMON_SETTINGS_KEY"], env["ENERGYMON_SETTINGS_SHA256"])
    # No DescribeTable check: the role may only read items; a wrong table fails its first request clearly.
    adapters = open_aws_read(env["ENERGYMON_TABLE_NAME"], shared=shared, session=session, check=False)
    if device_settings is not None:
        adapters.settings = device_settings
    return adapters.app(api_token_sha256=env["ENERGYMON_API_TOKEN_SHA256"], live_streaming=False)


_asgi: Any = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: API Gateway HTTP API events (2.0) through Mangum into the app, built once."""
    global _asgi  # noqa: PLW0603 - one app per container, reused across invocations
    if _asgi is None:
        from mangum import Mangum

        _asgi = Mangum(build_app(), lifespan="off")
    response: dict[str, Any] = _asgi(event, context)
    return response
