"""The batch processor: the one handler both runtimes call."""

from energymon.processing.processor import ParamsResolver, Processor, ZoneResolver

__all__ = ["ParamsResolver", "Processor", "ZoneResolver"]
