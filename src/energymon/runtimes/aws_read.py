"""The AWS runtime's read side: the query service, the API app and dead letters over a deployed stack.

One composition for every reader of a deployed stack — ``energymon query|dead-letters|serve --aws-table``
and the hosted read API (:mod:`energymon.runtimes.api_lambda`). Clients come from boto3's usual chain
(credentials, region, ``AWS_ENDPOINT_URL`` for an emulator; botocore honours that variable itself).

Zones and tariffs come through one small seam, :class:`DeviceSettings` (``zone(device)``, ``tariff(device)``).
The default, :class:`StoredZones`, takes each device's zone from the DynamoDB device item (attribute ``z``: the
zone the processor cut that device's hours and days in, so the read side cuts the same days), else the settings'
zone of that device; tariffs come from the stack's own settings document (``s3://<bucket>/config/settings.json``,
what the processor was given) when there is a bucket to read it from, else from the local settings.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from energymon.errors import EnergymonError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from fastapi import FastAPI

    from energymon.adapters.aws.dynamodb_store import DynamoDBStore
    from energymon.adapters.aws.s3_dead_letters import S3DeadLetters
    from energymon.api.context import ApiOptions
    from energymon.application.queries import QueryService
    from energymon.config import Settings
    from energymon.domain.tariffs import Tariff
    from energymon.shared_settings import SharedSettings

__all__ = ["AwsReadAdapters", "AwsReadError", "DeviceSettings", "StoredZones", "device_settings", "explained",
           "open_aws_read"]


class AwsReadError(EnergymonError):
    """A deployed stack could not be read: the message names what is wrong (table, region, credentials, endpoint)."""


class DeviceSettings(Protocol):
    """Per-device settings the read side needs (the seam the shared settings document plugs into)."""

    def zone(self, device_id: str) -> str: ...

    def tariff(self, device_id: str) -> Tariff | None: ...


class StoredZones:
    """Each device's zone from its DynamoDB device item (what the processor used), else ``fallback_zone``.

    The device items are read once (one Query of the ``DEVICES`` partition) and again when an unknown device
    is asked for, so a device that appears while ``serve`` runs gets its zone.
    """

    def __init__(self, client: Any, table: str, fallback_zone: Callable[[str], str],
                 tariffs: Callable[[str], Tariff | None] = lambda _device: None) -> None:
        self._client = client
        self._table = table
        self._fallback = fallback_zone
        self._tariffs = tariffs
        self._zones: dict[str, str] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[str, str]:
        from energymon.adapters.aws.dynamodb_items import DEVICES

        zones: dict[str, str] = {}
        paginator = self._client.get_paginator("query")
        for page in paginator.paginate(TableName=self._table, KeyConditionExpression="pk = :pk",
                                       ExpressionAttributeValues={":pk": {"S": DEVICES}},
                                       ProjectionExpression="sk, z"):
            for item in page.get("Items", []):
                if "z" in item:
                    zones[item["sk"]["S"]] = item["z"]["S"]
        return zones

    def zone(self, device_id: str) -> str:
        with self._lock:
            if self._zones is None or device_id not in self._zones:
                self._zones = self._load()
            stored = self._zones.get(device_id)
        return stored or self._fallback(device_id)

    def tariff(self, device_id: str) -> Tariff | None:
        return self._tariffs(device_id)


def device_settings(client: Any, table: str, settings: Settings | None,
                    shared: SharedSettings | None = None) -> DeviceSettings:
    """Zones: the ones the processor stored with each device, else the settings' zone of the device. Tariffs:
    the deployed settings document's (``shared``, what the processor was given), else the local settings'."""
    if shared is None:
        shared = settings.shared_settings() if settings else None
    if shared is None:
        from energymon.processing import ZoneResolver

        return StoredZones(client, table, ZoneResolver())
    return StoredZones(client, table, shared.zone_of, shared.tariff_of)


def deployed_settings(s3: Any, bucket: str) -> SharedSettings | None:
    """The stack's settings document in ``bucket`` (``config/settings.json``), or None if it has none."""
    from botocore.exceptions import ClientError

    from energymon.adapters.aws.settings_object import SETTINGS_KEY, load_shared_settings

    try:
        s3.head_object(Bucket=bucket, Key=SETTINGS_KEY)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return load_shared_settings(s3, bucket, SETTINGS_KEY)


@dataclass
class AwsReadAdapters:
    """What a reader of a deployed stack uses: the store (read port), dead letters (with a bucket), settings."""

    table: str
    store: DynamoDBStore
    settings: DeviceSettings
    dead_letters: S3DeadLetters | None
    region: str | None
    shared: SharedSettings | None = None  # the stack's settings document, when a bucket was given and holds one

    def query_service(self) -> QueryService:
        from energymon.application.queries import QueryService

        return QueryService(self.store, self.settings.zone, self.settings.tariff(""), tariffs=self.settings.tariff)

    def api_options(self, **overrides: Any) -> ApiOptions:
        from energymon.api.context import ApiOptions

        options = ApiOptions(self.settings.zone, dead_letters=self.dead_letters, tariff=self.settings.tariff(""),
                             tariffs=self.settings.tariff, **overrides)
        if self.shared is not None and self.shared.alerts.rules:
            # The stack's incidents (ALERT# items in the same table), read only: /api/alerts and the dashboard.
            from energymon.adapters.aws.dynamodb_alerts import DynamoDBAlerts
            from energymon.processing.compose import build_alert_evaluator

            options.alerts = build_alert_evaluator(self.shared, DynamoDBAlerts(self.table, client=self.store.client),
                                                   self.store)
        return options

    def app(self, **overrides: Any) -> FastAPI:
        from energymon.api import create_app

        return create_app(self.store, self.api_options(**overrides))


def _describe(exc: Exception, what: str, region: str | None, endpoint: str | None) -> str | None:  # noqa: PLR0911
    """A one-line explanation of a boto3/botocore failure, or None for one this module does not know."""
    from botocore import exceptions as bx

    where = f"region {region}" if region else "the configured region"
    if isinstance(exc, bx.NoRegionError):
        return "no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's region)"
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return ("no AWS credentials found: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, "
                "or run `aws configure`")
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectTimeoutError | bx.ReadTimeoutError):
        target = endpoint or getattr(exc, "kwargs", {}).get("endpoint_url") or where
        return f"cannot reach the AWS endpoint {target} (network down, wrong AWS_ENDPOINT_URL or region?)"
    if isinstance(exc, bx.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code in {"ResourceNotFoundException", "NoSuchBucket", "404"}:
            return (f"{what} does not exist in {where} (check the name, and the region: "
                    "AWS_REGION / AWS_DEFAULT_REGION / the profile)")
        if code in {"UnrecognizedClientException", "InvalidClientTokenId", "InvalidAccessKeyId",
                    "ExpiredTokenException", "ExpiredToken", "SignatureDoesNotMatch"}:
            return f"the AWS credentials were refused ({code}): {message or 'check the keys or profile'}"
        if code in {"AccessDeniedException", "AccessDenied", "403"}:
            return f"access denied reading {what}: {message or 'the credentials lack the read permission'}"
        return f"reading {what} failed: {code} {message}".strip()
    if isinstance(exc, bx.BotoCoreError):
        return f"reading {what} failed: {exc}"
    return None


@contextmanager
def explained(what: str, region: str | None = None, endpoint: str | None = None) -> Iterator[None]:
    """Turn boto3 failures inside the block into one :class:`AwsReadError` line (no traceback)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        message = _describe(exc, what, region, endpoint)
        raise AwsReadError(message or str(exc)) from None


def open_aws_read(table: str, bucket: str | None = None, settings: Settings | None = None, *,
                  session: Any = None, check: bool = True, shared: SharedSettings | None = None) -> AwsReadAdapters:
    """The read adapters over ``table`` (and ``bucket``'s dead letters), checked reachable when ``check``.

    The check (DescribeTable, HeadBucket) is for the CLI, which should fail before printing anything; the hosted
    API skips it: its role may only read items (GetItem/Query), and its first request fails clearly anyway.
    """
    import boto3

    from energymon.adapters.aws.dynamodb_store import DynamoDBStore
    from energymon.adapters.aws.s3_dead_letters import S3DeadLetters

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    with explained(f"DynamoDB table {table!r}", None, endpoint):
        session = session or boto3.session.Session()
        region = session.region_name
        ddb = session.client("dynamodb")
    with explained(f"DynamoDB table {table!r}", region, endpoint):
        if check:
            ddb.describe_table(TableName=table)
        store = DynamoDBStore(table, client=ddb)
    dead_letters = None
    if bucket:
        with explained(f"S3 bucket {bucket!r}", region, endpoint):
            s3 = session.client("s3")
            if check:
                s3.head_bucket(Bucket=bucket)
            dead_letters = S3DeadLetters(bucket, client=s3)
            if shared is None:  # the deployed stack's own zones and tariffs, when it has a settings document
                shared = deployed_settings(s3, bucket)
    return AwsReadAdapters(table, store, device_settings(ddb, table, settings, shared), dead_letters, region, shared)

