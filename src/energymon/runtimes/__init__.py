"""Thin entry points: each builds its adapters in one composition root and calls the core."""
