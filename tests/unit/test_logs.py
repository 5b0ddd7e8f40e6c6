"""Repeated log lines are said once per interval, with how many were swallowed (a full disk must not bury
the one line that says what is wrong)."""

from __future__ import annotations

import logging

from energymon.logs import RepeatFilter


def _record(msg: str, *args: object, level: int = logging.ERROR, name: str = "energymon.x") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_a_repeated_failure_is_said_once_per_interval_then_with_the_count() -> None:
    now = [0.0]
    flt = RepeatFilter(interval_s=60, clock=lambda: now[0])
    # GIVEN the same failure 500 times within a minute (different arguments, same message)
    shown = [flt.filter(_record("could not append %d messages", i)) for i in range(500)]
    # THEN only the first is shown
    assert shown.count(True) == 1
    # WHEN it happens again after the interval
    now[0] = 61.0
    again = _record("could not append %d messages", 7)
    assert flt.filter(again)
    # THEN it says how many were swallowed meanwhile
    assert again.getMessage() == "could not append 7 messages [repeated 499 more time(s) in the last 60 s]"


def test_distinct_failures_and_levels_are_each_said() -> None:
    flt = RepeatFilter(interval_s=60, clock=lambda: 0.0)
    assert flt.filter(_record("disk full"))
    assert flt.filter(_record("archive read-only"))
    assert flt.filter(_record("disk full", level=logging.WARNING))
    assert flt.filter(_record("disk full", name="energymon.y"))
    assert not flt.filter(_record("disk full"))
