"""Benchmarks, run on purpose (``make bench`` / ``python -m benchmarks``), never by pytest.

Each prints its figures next to a baseline measured in the same run on the same machine.
"""
