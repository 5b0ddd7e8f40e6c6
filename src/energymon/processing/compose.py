"""What both composition roots build from the shared settings, in one place, so they cannot drift apart.

``runtimes/local.py`` (LocalAdapters) and ``runtimes/lambda_handler.py`` (build) call these with their own
adapters; a test builds both from equivalent settings and compares what they store and cost.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from energymon.processing.processor import ParamsResolver, Processor, ZoneResolver

if TYPE_CHECKING:
    from collections.abc import Callable

    from energymon.application.alerts import AlertEvaluator
    from energymon.application.queries import QueryService
    from energymon.ports import AlertState, Archive, DeadLetters, Metrics, StoreReader, StoreWriter
    from energymon.shared_settings import SharedSettings

__all__ = ["build_alert_evaluator", "build_processor", "build_query_service", "instant_rules", "params_resolver",
           "zone_resolver"]


def zone_resolver(shared: SharedSettings) -> ZoneResolver:
    """Each device's zone: its own, else the default."""
    return ZoneResolver(shared.timezone, dict(shared.device_zones()))


def params_resolver(shared: SharedSettings) -> ParamsResolver:
    """Each device's energy limits: its own (unset keys filled from the defaults), else the defaults."""
    return ParamsResolver(shared.default_energy_params(), dict(shared.device_energy_params()))


def build_processor(shared: SharedSettings, store: StoreWriter, archive: Archive, dead_letters: DeadLetters,
                    metrics: Metrics, clock: Callable[[], float] = time.time,
                    alerts: AlertEvaluator | None = None) -> Processor:
    """The one Processor both runtimes run, configured per device from ``shared`` (``alerts``: its instant rules)."""
    return Processor(store, archive, dead_letters, metrics, zone_resolver(shared), params_resolver(shared),
                     clock=clock, alerts=alerts)


def build_alert_evaluator(shared: SharedSettings, state: AlertState, store: StoreReader,
                          metrics: Metrics | None = None) -> AlertEvaluator:
    """The alert rules of ``shared``, judged in each device's zone and costed with each device's tariff."""
    from energymon.application.alerts import AlertEvaluator

    return AlertEvaluator(shared.alerts.rule_models(), state, store, zone_resolver(shared), shared.tariff_of,
                          metrics)


def instant_rules(evaluator: AlertEvaluator) -> AlertEvaluator | None:
    """The evaluator, for the processor to call after each batch, if it has any rule to judge there."""
    return evaluator if any(rule.instant for rule in evaluator.rules) else None


def build_query_service(shared: SharedSettings, store: StoreReader, **options: Any) -> QueryService:
    """The read side over ``store``: days cut in each device's zone, costed with each device's tariff."""
    from energymon.application.queries import QueryService

    return QueryService(store, zone_resolver(shared), shared.default_tariff(), tariffs=shared.tariff_of, **options)
