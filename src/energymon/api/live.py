"""Live power as server-sent events: one poll of the store per second, fanned out to every client.

The store is read once per tick whatever the number of clients, and each message is encoded once and
shared, so fifty dashboards cost about as much as one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

import anyio
import orjson

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from energymon.application.queries import QueryService

__all__ = ["LiveFeed"]

log = logging.getLogger(__name__)

_QUEUE = 64  # messages a slow client may lag behind before it loses the oldest


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class LiveFeed:
    def __init__(self, service: QueryService, interval_s: float = 1.0, clock: Callable[[], float] = time.time) -> None:
        self.service = service
        self.interval_s = interval_s
        self.clock = clock
        self.closed = False
        self._subscribers: dict[asyncio.Queue[bytes], str | None] = {}
        self._task: asyncio.Task[None] | None = None
        self._last: dict[str, int] = {}

    @property
    def clients(self) -> int:
        return len(self._subscribers)

    def close(self) -> None:
        """Ends every stream within one tick (callable from any thread)."""
        self.closed = True

    async def stream(self, device_id: str | None) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=_QUEUE)
        self._subscribers[queue] = device_id
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            yield b"retry: 2000\n" + _event("hello", {"now_ms": int(self.clock() * 1000), "device": device_id})
            while not self.closed:
                try:
                    message = await asyncio.wait_for(queue.get(), timeout=self.interval_s * 2)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                yield message
        finally:
            self._subscribers.pop(queue, None)

    async def _run(self) -> None:
        while not self.closed and self._subscribers:
            try:
                now_ms, per_device = await anyio.to_thread.run_sync(self._poll)
            except Exception:
                log.exception("live feed: reading the store failed")
                await asyncio.sleep(self.interval_s)
                continue
            encoded = {device: _event("power", data) for device, data in per_device.items()}
            tick = _event("tick", {"now_ms": now_ms})
            everything = b"".join(encoded.values()) + tick
            for queue, wanted in list(self._subscribers.items()):
                message = everything if wanted is None else encoded.get(wanted, b"") + tick
                if queue.full():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()
                queue.put_nowait(message)
            await asyncio.sleep(self.interval_s)
        self._task = None

    def _poll(self) -> tuple[int, dict[str, dict[str, Any]]]:
        """New readings per device since the last tick (the latest one only, the first time a device is seen)."""
        out: dict[str, dict[str, Any]] = {}
        for summary in self.service.summaries():
            last_ts = summary.last_ts_ms
            if last_ts is None:
                continue
            sent = self._last.get(summary.device_id)
            points: list[list[Any]] = []
            if sent is None:
                points = [[last_ts, summary.last_power_w]]
            elif last_ts > sent:
                readings = self.service.readings(summary.device_id, sent + 1, last_ts + 1)
                points = [[r.ts_ms, r.power_w] for r in readings]
            self._last[summary.device_id] = max(last_ts, sent or 0)
            if points:
                out[summary.device_id] = {
                    "device_id": summary.device_id,
                    "last_seen_ms": last_ts,
                    "power_w": summary.last_power_w,
                    "points": points,
                }
        return int(self.clock() * 1000), out
