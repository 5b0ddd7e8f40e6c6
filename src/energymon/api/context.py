"""What every router is built with: the options the runtime passes, the query service, the live feed, auth.

No ``from __future__ import annotations`` here: FastAPI reads ``require_token``'s annotations at run time.
"""

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from energymon.api.live import LiveFeed
from energymon.api.params import BadParameter
from energymon.application.queries import QueryService, UnknownDevice

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from energymon.application.alerts import AlertEvaluator
    from energymon.domain.tariffs import Tariff
    from energymon.health import Health as RuntimeHealth
    from energymon.ports import DeadLetters, DeviceSummary, StoreReader

__all__ = ["TOKEN_COOKIE", "ApiContext", "ApiOptions", "token_digest", "token_matches"]

TOKEN_COOKIE = "energymon_token"  # noqa: S105 - a cookie name, not a secret

bearer = HTTPBearer(auto_error=False, description="Required when the server binds a non-loopback address")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class ApiOptions:
    """What the API needs besides the store, all optional: the local runtime passes its own."""

    def __init__(
        self,
        zones: "Callable[[str], str] | None" = None,
        *,
        api_token: str | None = None,
        registry: "CollectorRegistry | None" = None,
        dead_letters: "DeadLetters | None" = None,
        stream_lag: "Callable[[], int] | None" = None,
        online_within_s: float = 120.0,
        tariff: "Tariff | None" = None,
        tariffs: "Callable[[str], Tariff | None] | None" = None,
        live_interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        health: "RuntimeHealth | None" = None,
        api_token_sha256: str | None = None,
        live_streaming: bool = True,
    ) -> None:
        self.health = health
        # The hosted API knows only the token's SHA-256 (hex): the secret is never in its configuration.
        if api_token_sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", api_token_sha256):
            raise ValueError("api_token_sha256 must be 64 lower-case hex digits (a SHA-256)")
        self.api_token_sha256 = api_token_sha256
        # False where responses are buffered (API Gateway + Lambda): /api/live answers 501, the page polls.
        self.live_streaming = live_streaming
        self.zones = zones or (lambda _device: "UTC")
        self.api_token = api_token or None
        self.registry = registry
        self.dead_letters = dead_letters
        self.stream_lag = stream_lag
        self.online_within_s = online_within_s
        self.tariff = tariff  # the default; ``tariffs`` gives a device its own (SharedSettings.tariff_of)
        self.tariffs = tariffs
        self.live_interval_s = live_interval_s
        self.clock = clock
        self.alerts: AlertEvaluator | None = None  # set by a runtime that evaluates alerts (/api/alerts)


def token_matches(given: str | None, expected: str | None) -> bool:
    return bool(given and expected and secrets.compare_digest(given.encode(), expected.encode()))


def token_digest(token: str) -> str:
    """What Terraform's ``sha256()`` gives for the token (hex of its UTF-8 bytes)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class ApiContext:
    """One app's shared parts; each router module's ``router(ctx)`` builds its routes over it."""

    options: ApiOptions
    service: QueryService
    feed: LiveFeed
    guarded: list[Any] = field(default_factory=list)  # the token dependency, when a token is configured

    @classmethod
    def build(cls, store: "StoreReader", options: ApiOptions) -> "ApiContext":
        service = QueryService(store, options.zones, options.tariff, tariffs=options.tariffs, clock=options.clock,
                               online_within_s=options.online_within_s)
        ctx = cls(options, service, LiveFeed(service, options.live_interval_s, options.clock))
        # The schema declares bearer auth only when a token is configured (it is then really enforced).
        ctx.guarded = [Depends(ctx.require_token)] if ctx.auth_required else []
        return ctx

    @property
    def auth_required(self) -> bool:
        return self.options.api_token is not None or self.options.api_token_sha256 is not None

    def token_ok(self, given: str | None) -> bool:
        """``given`` is the configured token (or hashes to the configured SHA-256), compared in constant time."""
        if self.options.api_token is not None:
            return token_matches(given, self.options.api_token)
        return bool(given) and token_matches(token_digest(given or ""), self.options.api_token_sha256)

    def require_token(self, request: Request, credentials: Credentials) -> None:
        if not self.auth_required:
            return
        given = (credentials.credentials if credentials else None) or request.cookies.get(TOKEN_COOKIE) \
            or request.query_params.get("token")
        if not self.token_ok(given):
            raise BadParameter("token", "missing or wrong API token (Authorization: Bearer <token>)", 401)

    def known(self, device_id: str) -> "DeviceSummary":
        """The device's summary, or a 404 naming ``device_id``."""
        try:
            return self.service.device(device_id)
        except UnknownDevice:
            raise BadParameter("device_id", f"unknown device {device_id!r}", 404) from None

    def now_ms(self) -> int:
        return int(self.options.clock() * 1000)
