"""The AWS runtime's composition root: adapters built once per container from the environment.

Terraform (infra/terraform/modules/processor) sets exactly ``ENVIRONMENT``; a test checks both sides.
``handler`` is ``Processor.handle``: the local poller calls the very same function.

``scheduled_handler`` is the second entry point of the same package (its own function, modules/alerts, invoked by
an EventBridge schedule): the time-driven alert rules as of the event's time, then one pass of the alert outbox.
Its environment is exactly ``SCHEDULED_ENVIRONMENT`` (+ the optional ``SCHEDULED_OPTIONAL``).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from energymon.errors import ConfigError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from energymon.adapters.aws.dynamodb_alerts import DynamoDBAlerts
    from energymon.adapters.aws.dynamodb_store import DynamoDBStore
    from energymon.adapters.aws.emf_metrics import EmfMetrics
    from energymon.adapters.aws.s3_archive import S3Archive
    from energymon.adapters.aws.s3_dead_letters import S3DeadLetters
    from energymon.adapters.aws.sns_notifier import SnsNotifier
    from energymon.application.alert_dispatch import DispatchReport, OutboxDispatcher, Sender
    from energymon.application.alerts import AlertEvaluator
    from energymon.config import AlertsSettings
    from energymon.processing.processor import Processor

__all__ = ["ENVIRONMENT", "SCHEDULED_ENVIRONMENT", "SCHEDULED_OPTIONAL", "AlertAdapters", "AwsAdapters",
           "alerts_from_document", "build", "build_scheduled", "handler", "scheduled_handler"]

ENVIRONMENT = (
    "ENERGYMON_TABLE_NAME",
    "ENERGYMON_ARCHIVE_BUCKET",
    "ENERGYMON_ALERT_TOPIC_ARN",
    "ENERGYMON_DEFAULT_TIMEZONE",
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
    alerts: DynamoDBAlerts | None = None
    alert_evaluator: AlertEvaluator | None = None  # set when any instant rule exists


def _require(environ: Mapping[str, str]) -> dict[str, str]:
    missing = [name for name in ENVIRONMENT if not environ.get(name)]
    if missing:
        raise ConfigError(f"environment variable {', '.join(missing)} is not set (the Lambda needs all of "
                          f"{', '.join(ENVIRONMENT)})")
    return {name: environ[name] for name in ENVIRONMENT}


def build(environ: Mapping[str, str] | None = None, session: Any = None,
          alerts: AlertsSettings | None = None) -> AwsAdapters:
    """Every adapter from the environment; ``session`` (a boto3 Session) lets tests point at moto.

    ``alerts``: the alert rules and channels (the shared settings document's ``alerts``, see
    ``alerts_from_document``); None: read from the settings object named by ``ENERGYMON_SETTINGS_KEY`` when set.
    Instant rules (power_above/power_below) then run in the processor after each device's write.
    """
    env = _require(os.environ if environ is None else environ)
    import boto3

    from energymon.adapters.aws.dynamodb_store import DynamoDBStore
    from energymon.adapters.aws.emf_metrics import EmfMetrics
    from energymon.adapters.aws.s3_archive import S3Archive
    from energymon.adapters.aws.s3_dead_letters import S3DeadLetters
    from energymon.adapters.aws.sns_notifier import SnsNotifier
    from energymon.processing.processor import Processor, ZoneResolver

    logging.getLogger("energymon").setLevel(env["POWERTOOLS_LOG_LEVEL"].upper())
    session = session or boto3.session.Session()
    s3 = session.client("s3")
    store = DynamoDBStore(env["ENERGYMON_TABLE_NAME"], client=session.client("dynamodb"))
    archive = S3Archive(env["ENERGYMON_ARCHIVE_BUCKET"], client=s3)
    dead_letters = S3DeadLetters(env["ENERGYMON_ARCHIVE_BUCKET"], client=s3)
    notifier = SnsNotifier(env["ENERGYMON_ALERT_TOPIC_ARN"], client=session.client("sns"))
    metrics = EmfMetrics(env["POWERTOOLS_METRICS_NAMESPACE"], env["POWERTOOLS_SERVICE_NAME"])
    zones = ZoneResolver(env["ENERGYMON_DEFAULT_TIMEZONE"])
    settings = alerts if alerts is not None else _alerts_settings(environ_or_os(environ), s3,
                                                                  env["ENERGYMON_ARCHIVE_BUCKET"])
    alert_state, evaluator = _alert_evaluator(settings, env["ENERGYMON_TABLE_NAME"], session, store, zones, metrics)
    instant = evaluator if evaluator is not None and any(r.instant for r in evaluator.rules) else None
    processor = Processor(store, archive, dead_letters, metrics, zones, alerts=instant)
    return AwsAdapters(store, archive, dead_letters, notifier, metrics, processor, alert_state, instant)


_adapters: AwsAdapters | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point: Processor.handle, with adapters built on the first invocation."""
    global _adapters  # noqa: PLW0603 - one composition per container, reused across invocations
    if _adapters is None:
        _adapters = build()
    return _adapters.processor.handle(event, context)


# ------------------------------------------------------------------------------------------------- alerts
#: The scheduled function's environment (modules/alerts sets exactly these; a test compares).
SCHEDULED_ENVIRONMENT = (
    "ENERGYMON_TABLE_NAME",
    "ENERGYMON_ARCHIVE_BUCKET",
    "ENERGYMON_DEFAULT_TIMEZONE",
    "ENERGYMON_SETTINGS_KEY",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
)
#: Set by Terraform but not read: a changed settings document changes it, so new containers load the new one.
SCHEDULED_OPTIONAL = ("ENERGYMON_SETTINGS_SHA256",)


def environ_or_os(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def alerts_from_document(document: Mapping[str, Any]) -> AlertsSettings:
    """The ``alerts`` section of the shared settings document (absent: no rules, no channels), validated:
    a bad rule or channel is a ConfigError naming its key."""
    from pydantic import ValidationError

    from energymon.config import AlertsSettings

    section = document.get("alerts") or {}
    if not isinstance(section, dict):
        raise ConfigError("settings document: alerts: must be an object with rules and channels")
    try:
        return AlertsSettings.model_validate(section)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        # The rule and channel checks already name their key ("rules[0].kind: ..."): only prefix the section.
        at = message if not where or message.startswith(where) else f"{where}: {message}"
        raise ConfigError(f"settings document: alerts.{at}") from None


def _alerts_settings(environ: Mapping[str, str], s3: Any, bucket: str) -> AlertsSettings | None:
    """The alerts of the settings object ``ENERGYMON_SETTINGS_KEY`` in the archive bucket (unset: none).

    A stand-in until the shared settings loader (adapters/aws/settings_object.py) is wired here: the same
    object, only its ``alerts`` section.
    """
    import orjson
    from botocore.exceptions import BotoCoreError, ClientError

    key = environ.get("ENERGYMON_SETTINGS_KEY")
    if not key:
        return None
    try:
        raw = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        raise ConfigError(f"cannot read the settings document s3://{bucket}/{key}: {exc}") from None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"settings document s3://{bucket}/{key} is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"settings document s3://{bucket}/{key}: must be a JSON object")
    return alerts_from_document(document)


def _alert_evaluator(settings: AlertsSettings | None, table: str, session: Any, store: Any, zones: Any,
                     metrics: Any) -> tuple[DynamoDBAlerts | None, AlertEvaluator | None]:
    from energymon.adapters.aws.dynamodb_alerts import DynamoDBAlerts
    from energymon.application.alerts import AlertEvaluator

    if settings is None or not settings.rules:
        return None, None
    state = DynamoDBAlerts(table, client=session.client("dynamodb"))
    # Tariffs for cost budgets come with the shared settings document (per device); until then: none.
    return state, AlertEvaluator(settings.rule_models(), state, store, zones, metrics=metrics)


@dataclass
class AlertAdapters:
    alerts: DynamoDBAlerts
    evaluator: AlertEvaluator | None  # None: no rules configured (the outbox is still drained)
    dispatcher: OutboxDispatcher


def build_scheduled(environ: Mapping[str, str] | None = None, session: Any = None,
                    alerts: AlertsSettings | None = None) -> AlertAdapters:
    """The scheduled function's adapters; ``alerts`` as in ``build`` (None: from the settings object)."""
    source = environ_or_os(environ)
    missing = [name for name in SCHEDULED_ENVIRONMENT if not source.get(name)]
    if missing:
        raise ConfigError(f"environment variable {', '.join(missing)} is not set (the scheduled alert function "
                          f"needs all of {', '.join(SCHEDULED_ENVIRONMENT)})")
    import boto3

    from energymon.adapters.aws.dynamodb_alerts import DynamoDBAlerts
    from energymon.adapters.aws.dynamodb_store import DynamoDBStore
    from energymon.adapters.aws.emf_metrics import EmfMetrics
    from energymon.adapters.notify import build_channels, parse_channels
    from energymon.adapters.notify.sns import SnsChannel
    from energymon.application.alert_dispatch import OutboxDispatcher
    from energymon.processing.processor import ZoneResolver

    logging.getLogger("energymon").setLevel(source["POWERTOOLS_LOG_LEVEL"].upper())
    session = session or boto3.session.Session()
    table, bucket = source["ENERGYMON_TABLE_NAME"], source["ENERGYMON_ARCHIVE_BUCKET"]
    settings = alerts if alerts is not None else _alerts_settings(source, session.client("s3"), bucket)
    metrics = EmfMetrics(source["POWERTOOLS_METRICS_NAMESPACE"], source["POWERTOOLS_SERVICE_NAME"])
    store = DynamoDBStore(table, client=session.client("dynamodb"))
    zones = ZoneResolver(source["ENERGYMON_DEFAULT_TIMEZONE"])
    state, evaluator = _alert_evaluator(settings, table, session, store, zones, metrics)
    outbox = state or DynamoDBAlerts(table, client=session.client("dynamodb"))
    channels = build_channels(parse_channels(settings.channels)) if settings is not None else {}
    for channel in channels.values():
        if isinstance(channel, SnsChannel):  # the function's own credentials (and, in tests, moto)
            channel._client = session.client("sns", region_name=channel.settings.topic_region)  # noqa: SLF001
    # A Channel is a Sender; mypy reads the protocol's settable quiet_hours as invariant, hence the cast.
    senders = cast("Mapping[str, Sender]", channels)
    return AlertAdapters(outbox, evaluator, OutboxDispatcher(outbox, senders, metrics))


_scheduled: AlertAdapters | None = None


def scheduled_time(event: Mapping[str, Any]) -> float:
    """An EventBridge Scheduled Event's ``time`` (``2026-12-02T01:00:00Z``) as epoch seconds."""
    from datetime import datetime

    when = event.get("time")
    if not isinstance(when, str):
        raise ConfigError(f"scheduled event without a time: {dict(event)!r:.200}")
    try:
        return datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ConfigError(f"scheduled event time {when!r} is not an ISO 8601 time") from None


def run_scheduled(adapters: AlertAdapters, now_s: float) -> dict[str, Any]:
    """Time-driven rules as of ``now_s``, then the outbox: what was noticed and sent (the function's result)."""
    notified = adapters.evaluator.evaluate_scheduled(now_s) if adapters.evaluator is not None else []
    report: DispatchReport = adapters.dispatcher.run_once(now_s)
    if report.errors:
        log.warning("alert delivery failed on %s", ", ".join(f"{c}: {e}" for c, e in report.errors.items()))
    return {"notifications": [n.key for n in notified], "sent": report.sent, "failed": report.failed,
            "deferred": report.deferred, "errors": report.errors}


def scheduled_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The EventBridge schedule's entry point: ``evaluate_scheduled(event time)``, then ``run_once``."""
    global _scheduled  # noqa: PLW0603 - one composition per container, reused across invocations
    now_s = scheduled_time(event)
    if _scheduled is None:
        _scheduled = build_scheduled()
    return run_scheduled(_scheduled, now_s)
