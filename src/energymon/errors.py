"""One exception hierarchy for the whole project."""

from __future__ import annotations

__all__ = [
    "ArchiveError",
    "ConfigError",
    "DeliveryError",
    "EnergymonError",
    "RejectedReading",
    "StoreError",
]


class EnergymonError(Exception):
    """Root of every error energymon raises on purpose."""


class RejectedReading(EnergymonError):
    """Input that can never be processed: the message says why, in words a person can read."""

    def __init__(self, reason: str, code: str = "invalid") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class StoreError(EnergymonError):
    """A store or archive could not take a write; the caller should retry later."""


class ArchiveError(EnergymonError):
    """The archive could not be changed as asked (S3 refused part of a compaction)."""


class ConfigError(EnergymonError):
    """A configuration value is missing or malformed."""


class DeliveryError(EnergymonError):
    """An alert channel did not take a notification; the message says why in one line (the outbox retries it)."""
