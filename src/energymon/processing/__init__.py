"""The batch processor: the one handler both runtimes call."""

from energymon.processing.processor import Processor, ZoneResolver

__all__ = ["Processor", "ZoneResolver"]
