"""energymon: real-time energy monitoring for the IoT box in an apartment."""

__all__ = ["__version__"]

__version__ = "0.1.0"
