"""The AWS runtime's composition root: adapters built once per container from the environment.

Terraform (infra/terraform/modules/processor) sets exactly ``ENVIRONMENT``; a test checks both sides.
The per-device settings (zones, tariffs, energy limits) come from the shared settings document that Terraform
writes to ``s3://$ENERGYMON_ARCHIVE_BUCKET/$ENERGYMON_SETTINGS_KEY`` (no 4 KB environment limit), checked against
``ENERGYMON_SETTINGS_SHA256``.
``handler`` is ``Processor.handle``: the local poller calls the very same function.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from energymon.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from energymon.adapters.aws.dynamodb_store import DynamoDBStore
    from energymon.adapters.aws.emf_metrics import EmfMetrics
    from energymon.adapters.aws.s3_archive import S3Archive
    from energymon.adapters.aws.s3_dead_letters import S3DeadLetters
    from energymon.adapters.aws.sns_notifier import SnsNotifier
    from energymon.processing.processor import Processor
    from energymon.shared_settings import SharedSettings

__all__ = ["ENVIRONMENT", "AwsAdapters", "build", "handler"]

ENVIRONMENT = (
    "ENERGYMON_TABLE_NAME",
    "ENERGYMON_ARCHIVE_BUCKET",
    "ENERGYMON_ALERT_TOPIC_ARN",
    "ENERGYMON_SETTINGS_KEY",
    "ENERGYMON_SETTINGS_SHA256",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
)


@dataclass
class AwsAdapters:
    store: DynamoDBStore
    archive: S3Archive
    dead_letters: S3DeadLetters
    notifier: SnsNotifier
    metrics: EmfMetrics
    processor: Processor
    shared: SharedSettings


def _require(environ: Mapping[str, str]) -> dict[str, str]:
    missing = [name for name in ENVIRONMENT if not environ.get(name)]
    if missing:
        raise ConfigError(f"environment variable {', '.join(missing)} is not set (the Lambda needs all of "
                          f"{', '.join(ENVIRONMENT)})")
    return {name: environ[name] for name in ENVIRONMENT}


def build(environ: Mapping[str, str] | None = None, session: Any = None) -> AwsAdapters:
    """Every adapter from the environment; ``session`` (a boto3 Session) lets tests point at moto."""
    env = _require(os.environ if environ is None else environ)
    import boto3

    from energymon.adapters.aws.dynamodb_store import DynamoDBStore
    from energymon.adapters.aws.emf_metrics import EmfMetrics
    from energymon.adapters.aws.s3_archive import S3Archive
    from energymon.adapters.aws.s3_dead_letters import S3DeadLetters
    from energymon.adapters.aws.settings_object import load_shared_settings
    from energymon.adapters.aws.sns_notifier import SnsNotifier
    from energymon.processing.compose import build_processor

    logging.getLogger("energymon").setLevel(env["POWERTOOLS_LOG_LEVEL"].upper())
    session = session or boto3.session.Session()
    s3 = session.client("s3")
    shared = load_shared_settings(s3, env["ENERGYMON_ARCHIVE_BUCKET"], env["ENERGYMON_SETTINGS_KEY"],
                                  env["ENERGYMON_SETTINGS_SHA256"])
    store = DynamoDBStore(env["ENERGYMON_TABLE_NAME"], client=session.client("dynamodb"))
    archive = S3Archive(env["ENERGYMON_ARCHIVE_BUCKET"], client=s3)
    dead_letters = S3DeadLetters(env["ENERGYMON_ARCHIVE_BUCKET"], client=s3)
    notifier = SnsNotifier(env["ENERGYMON_ALERT_TOPIC_ARN"], client=session.client("sns"))
    metrics = EmfMetrics(env["POWERTOOLS_METRICS_NAMESPACE"], env["POWERTOOLS_SERVICE_NAME"])
    processor = build_processor(shared, store, archive, dead_letters, metrics)
    return AwsAdapters(store, archive, dead_letters, notifier, metrics, processor, shared)


_adapters: AwsAdapters | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: Processor.handle, with adapters built on the first invocation."""
    global _adapters  # noqa: PLW0603 - one composition per container, reused across invocations
    if _adapters is None:
        _adapters = build()
    return _adapters.processor.handle(event, context)
