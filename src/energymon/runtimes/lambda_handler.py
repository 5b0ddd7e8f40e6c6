"""The AWS runtime's composition root: adapters built once per container from the environment.

Terraform (infra/terraform/modules/processor) sets exactly ``ENVIRONMENT``; a test checks both sides.
The per-device settings (zones, tariffs, energy limits) and the alert rules and channels come from the shared
settings document that Terraform writes to ``s3://$ENERGYMON_ARCHIVE_BUCKET/$ENERGYMON_SETTINGS_KEY`` (no 4 KB
environment limit), checked against ``ENERGYMON_SETTINGS_SHA256``.
``handler`` is ``Processor.handle``: the local poller calls the very same function, and it takes Kinesis and SQS
batches alike (Terraform's ``buffer``). ``METRICS_MODE`` (``emf`` | ``emf_lean`` | ``log_filters``, Terraform's
``metrics_mode``) picks how metrics leave the function; left out, it is ``emf``. ``ENERGYMON_ARCHIVE_MODE``
(``per_batch`` | ``scheduled``, Terraform's ``archive_mode``) picks the archive: an S3 object per batch, or a
pending marker per UTC hour and device in the table that the archiver turns into objects on its schedule
(adapters/aws/pending_archive.py); left out, it is ``per_batch``.

``scheduled_handler`` is the second entry point of the same package (its own function, modules/alerts, invoked by
an EventBridge schedule): the time-driven alert rules as of the event's time, then one pass of the alert outbox.
Its environment is exactly ``SCHEDULED_ENVIRONMENT``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from energymon.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from energymon.adapters.aws.dynamodb_alerts import DynamoDBAlerts
    from energymon.adapters.aws.dynamodb_store import DynamoDBStore
    from energymon.adapters.aws.pending_archive import PendingArchive
    from energymon.adapters.aws.s3_archive import S3Archive
    from energymon.adapters.aws.s3_dead_letters import S3DeadLetters
    from energymon.adapters.aws.sns_notifier import SnsNotifier
    from energymon.application.alert_dispatch import DispatchReport, OutboxDispatcher, Sender
    from energymon.application.alerts import AlertEvaluator
    from energymon.ports import Metrics
    from energymon.processing.processor import Processor
    from energymon.shared_settings import AlertsSettings, SharedSettings

__all__ = ["ARCHIVE_MODES", "ENVIRONMENT", "OPTIONAL_ENVIRONMENT", "SCHEDULED_ENVIRONMENT", "AlertAdapters",
           "AwsAdapters", "alerts_from_document", "archive_mode", "build", "build_scheduled", "handler",
           "raw_retention_days", "scheduled_handler"]

log = logging.getLogger(__name__)

ENVIRONMENT = (
    "ENERGYMON_TABLE_NAME",
    "ENERGYMON_ARCHIVE_BUCKET",
    "ENERGYMON_ALERT_TOPIC_ARN",
    "ENERGYMON_SETTINGS_KEY",
    "ENERGYMON_SETTINGS_SHA256",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "METRICS_MODE",
)
#: Names a caller may leave out, with the value that stands in: the fleet profile's metrics, no TTL on raw
#: readings and an archive object per batch (Terraform always sets them; ENERGYMON_RAW_RETENTION_DAYS is raw
#: readings' DynamoDB TTL in days).
OPTIONAL_ENVIRONMENT = {"METRICS_MODE": "emf", "ENERGYMON_RAW_RETENTION_DAYS": "",
                        "ENERGYMON_ARCHIVE_MODE": "per_batch"}
ARCHIVE_MODES = ("per_batch", "scheduled")


def archive_mode(environ: Mapping[str, str]) -> str:
    """``ENERGYMON_ARCHIVE_MODE``, checked: ``per_batch`` (the default) or ``scheduled``."""
    value = environ.get("ENERGYMON_ARCHIVE_MODE") or "per_batch"
    if value not in ARCHIVE_MODES:
        raise ConfigError(f"ENERGYMON_ARCHIVE_MODE: {value!r} is not an archive mode; use one of "
                          f"{', '.join(ARCHIVE_MODES)}")
    return value


def raw_retention_days(environ: Mapping[str, str]) -> float | None:
    """``ENERGYMON_RAW_RETENTION_DAYS`` checked as the local settings check ``raw_retention_days``."""
    from energymon.processing.retention import retention_problem

    value = environ.get("ENERGYMON_RAW_RETENTION_DAYS")
    if not value:
        return None
    try:
        days = float(value)
    except ValueError:
        raise ConfigError(f"ENERGYMON_RAW_RETENTION_DAYS: {value!r} is not a number of days") from None
    problem = retention_problem(days, float(environ.get("ENERGYMON_STREAM_RETENTION_HOURS") or 24))
    if problem is not None:
        raise ConfigError(f"ENERGYMON_RAW_RETENTION_DAYS: {problem}")
    return days


@dataclass
class AwsAdapters:
    store: DynamoDBStore
    archive: S3Archive | PendingArchive
    dead_letters: S3DeadLetters
    notifier: SnsNotifier
    metrics: Metrics
    processor: Processor
    shared: SharedSettings
    alerts: DynamoDBAlerts | None = None
    alert_evaluator: AlertEvaluator | None = None  # set when any instant rule exists


def _require(environ: Mapping[str, str], names: tuple[str, ...] = ENVIRONMENT,
             what: str = "the Lambda") -> dict[str, str]:
    missing = [name for name in names if not environ.get(name)]
    if missing:
        raise ConfigError(f"environment variable {', '.join(missing)} is not set ({what} needs all of "
                          f"{', '.join(names)})")
    return {name: environ[name] for name in names}


def _shared(env: Mapping[str, str], s3: Any, alerts: AlertsSettings | None) -> SharedSettings:
    """The settings document (``alerts``, when given, replaces its alert section: for tests)."""
    from energymon.adapters.aws.settings_object import load_shared_settings

    shared = load_shared_settings(s3, env["ENERGYMON_ARCHIVE_BUCKET"], env["ENERGYMON_SETTINGS_KEY"],
                                  env["ENERGYMON_SETTINGS_SHA256"])
    return shared if alerts is None else shared.model_copy(update={"alerts": alerts})


def build(environ: Mapping[str, str] | None = None, session: Any = None,
          alerts: AlertsSettings | None = None) -> AwsAdapters:
    """Every adapter from the environment; ``session`` (a boto3 Session) lets tests point at moto.

    Instant alert rules (power_above/power_below) of the settings document run in the processor after each
    device's write; their notifications wait in the outbox for the scheduled function to send.
    """
    source = os.environ if environ is None else environ
    env = {**OPTIONAL_ENVIRONMENT, **_require(source, tuple(n for n in ENVIRONMENT if n not in OPTIONAL_ENVIRONMENT))}
    env.update({name: source[name] for name in OPTIONAL_ENVIRONMENT if source.get(name)})
    retention = raw_retention_days(source)
    mode = archive_mode(source)
    import boto3

    from energymon.adapters.aws.dynamodb_alerts import DynamoDBAlerts
    from energymon.adapters.aws.dynamodb_store import DynamoDBStore
    from energymon.adapters.aws.emf_metrics import metrics_for_mode
    from energymon.adapters.aws.pending_archive import PendingArchive
    from energymon.adapters.aws.s3_archive import S3Archive
    from energymon.adapters.aws.s3_dead_letters import S3DeadLetters
    from energymon.adapters.aws.sns_notifier import SnsNotifier
    from energymon.processing.compose import build_alert_evaluator, build_processor, instant_rules

    logging.getLogger("energymon").setLevel(env["POWERTOOLS_LOG_LEVEL"].upper())
    session = session or boto3.session.Session()
    s3 = session.client("s3")
    shared = _shared(env, s3, alerts)
    ddb = session.client("dynamodb")
    store = DynamoDBStore(env["ENERGYMON_TABLE_NAME"], client=ddb, raw_retention_days=retention)
    archive: S3Archive | PendingArchive = S3Archive(env["ENERGYMON_ARCHIVE_BUCKET"], client=s3)
    if mode == "scheduled":  # a marker per UTC hour and device; the archiver writes the objects
        archive = PendingArchive(env["ENERGYMON_TABLE_NAME"], client=ddb)
    dead_letters = S3DeadLetters(env["ENERGYMON_ARCHIVE_BUCKET"], client=s3)
    notifier = SnsNotifier(env["ENERGYMON_ALERT_TOPIC_ARN"], client=session.client("sns"))
    metrics = metrics_for_mode(env["METRICS_MODE"], env["POWERTOOLS_METRICS_NAMESPACE"], env["POWERTOOLS_SERVICE_NAME"])
    state = instant = None
    if shared.alerts.rules:
        state = DynamoDBAlerts(env["ENERGYMON_TABLE_NAME"], client=ddb)
        instant = instant_rules(build_alert_evaluator(shared, state, store, metrics))
    processor = build_processor(shared, store, archive, dead_letters, metrics, alerts=instant)
    return AwsAdapters(store, archive, dead_letters, notifier, metrics, processor, shared, state, instant)


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
    "ENERGYMON_SETTINGS_KEY",
    "ENERGYMON_SETTINGS_SHA256",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
)


def alerts_from_document(document: Mapping[str, Any]) -> AlertsSettings:
    """The ``alerts`` section of a settings document (absent: no rules, no channels), validated: a bad rule or
    channel is a ConfigError naming its key."""
    from pydantic import ValidationError

    from energymon.shared_settings import AlertsSettings

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


@dataclass
class AlertAdapters:
    alerts: DynamoDBAlerts
    evaluator: AlertEvaluator | None  # None: no rules configured (the outbox is still drained)
    dispatcher: OutboxDispatcher


def build_scheduled(environ: Mapping[str, str] | None = None, session: Any = None,
                    alerts: AlertsSettings | None = None) -> AlertAdapters:
    """The scheduled function's adapters, from the same settings document as the processor's."""
    env = _require(os.environ if environ is None else environ, SCHEDULED_ENVIRONMENT,
                   "the scheduled alert function")
    import boto3

    from energymon.adapters.aws.dynamodb_alerts import DynamoDBAlerts
    from energymon.adapters.aws.dynamodb_store import DynamoDBStore
    from energymon.adapters.aws.emf_metrics import EmfMetrics
    from energymon.adapters.notify import build_channels
    from energymon.adapters.notify.sns import SnsChannel
    from energymon.application.alert_dispatch import OutboxDispatcher
    from energymon.processing.compose import build_alert_evaluator

    logging.getLogger("energymon").setLevel(env["POWERTOOLS_LOG_LEVEL"].upper())
    session = session or boto3.session.Session()
    shared = _shared(env, session.client("s3"), alerts)
    table = env["ENERGYMON_TABLE_NAME"]
    metrics = EmfMetrics(env["POWERTOOLS_METRICS_NAMESPACE"], env["POWERTOOLS_SERVICE_NAME"])
    ddb = session.client("dynamodb")
    store = DynamoDBStore(table, client=ddb)
    state = DynamoDBAlerts(table, client=ddb)
    evaluator = build_alert_evaluator(shared, state, store, metrics) if shared.alerts.rules else None
    channels = build_channels(shared.alerts.channel_models())
    for channel in channels.values():
        if isinstance(channel, SnsChannel):  # the function's own credentials (and, in tests, moto)
            channel._client = session.client("sns", region_name=channel.settings.topic_region)  # noqa: SLF001
    senders = cast("Mapping[str, Sender]", channels)
    return AlertAdapters(state, evaluator, OutboxDispatcher(state, senders, metrics))


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
