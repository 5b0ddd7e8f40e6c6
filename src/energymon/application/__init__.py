"""The read side: the one query service the CLI, the API, the dashboard, the status table and alerts call."""

from __future__ import annotations

from energymon.application.queries import PeriodReport, QueryService, UnknownDevice
from energymon.application.when import BadTime, parse_when

__all__ = ["BadTime", "PeriodReport", "QueryService", "UnknownDevice", "parse_when"]
