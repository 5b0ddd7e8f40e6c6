"""Logging for long-running commands: each distinct failure said once per interval, with a count.

A full disk makes every batch fail the same way several times a second; a wall of identical tracebacks
hides the one line that says what is wrong. The filter lets the first occurrence of a message (by logger,
level and format string) through, swallows repeats for ``interval_s``, and then lets the next one through
with how many were swallowed.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["RepeatFilter", "setup_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RepeatFilter(logging.Filter):
    def __init__(self, interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}  # key -> (last shown, swallowed)

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        with self._lock:
            shown, swallowed = self._seen.get(key, (None, 0))
            if shown is not None and now - shown < self.interval_s:
                self._seen[key] = (shown, swallowed + 1)
                return False
            self._seen[key] = (now, 0)
            if len(self._seen) > 10_000:  # bounded: messages with ever-new format strings must not grow it
                self._seen.clear()
        if swallowed:
            record.msg = f"{record.msg} [repeated {swallowed} more time(s) in the last {self.interval_s:.0f} s]"
        return True


def setup_logging(level: int = logging.WARNING, interval_s: float = 60.0) -> None:
    """Root logging for ``energymon run``/``serve``/``device run``: plain lines on stderr, repeats collapsed."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(RepeatFilter(interval_s))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
