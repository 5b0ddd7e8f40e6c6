"""The device agent: source → SQLite buffer → MQTT, acknowledged reading by reading. One thread, one loop.

Each turn of the loop: take what the source has (already decoded), append it to the buffer (the only way
into the pipeline), publish what is due, let the transport do its I/O (PUBACKs delete rows), and keep the
connection up.

Two lanes share one connection:

* **live** — readings buffered since the current connection came up, sent every ``batch_interval_s``
  as one message, first in every turn and with one in-flight slot reserved, so they never wait behind
  a backlog;
* **backlog** — everything older (an outage, a restart, unacknowledged messages of a dead connection),
  drained oldest first, ``drain_batch`` samples per message at ``drain_rate`` messages per second.

Both lanes are in order; together they stay under ``max_publish_rate`` (IoT Core: 100/s) and under the
128 KB payload limit. A message is ``seq`` = its first row id: a re-sent message carries the same seq,
and the pipeline's idempotent processing makes the duplicate harmless.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from energymon.agent.buffer import Buffer
from energymon.agent.publisher import PERMANENT_REFUSALS, DryRunTransport, MqttTransport
from energymon.agent.status import AgentStatus
from energymon.domain.reading import MAX_MESSAGE_BYTES, MAX_SAMPLES_PER_MESSAGE, telemetry_topic

if TYPE_CHECKING:
    from collections.abc import Callable

    from energymon.agent.buffer import Row
    from energymon.agent.config import AgentConfig
    from energymon.agent.publisher import Transport
    from energymon.agent.sources import Source

__all__ = ["DeviceAgent", "build_message"]

log = logging.getLogger(__name__)

_MAX_SAMPLES = MAX_SAMPLES_PER_MESSAGE  # the pipeline refuses more in one message
_CONNACK_TIMEOUT_S = 15.0


def build_message(device_id: str, rows: list[Row], limit: int = MAX_MESSAGE_BYTES) -> tuple[bytes, int]:
    """A canonical v1 message from the first rows that fit in ``limit`` bytes; returns (payload, rows used)."""
    head = b'{"v":1,"device_id":"' + device_id.encode() + b'","seq":' + str(rows[0].id).encode() + b',"samples":['
    size = len(head) + 2
    used = 0
    for row in rows[:_MAX_SAMPLES]:
        extra = len(row.sample) + (1 if used else 0)
        if size + extra > limit:
            break
        size += extra
        used += 1
    if used == 0:
        raise ValueError(f"one sample does not fit in {limit} bytes")
    return head + b",".join(r.sample for r in rows[:used]) + b"]}", used


@dataclass(frozen=True, slots=True)
class _Flight:
    first_id: int
    last_id: int
    count: int
    lane: str


class _Bucket:
    """Token bucket: ``rate`` per second, bursts of at most ``burst``."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, burst, now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class DeviceAgent:
    def __init__(
        self,
        config: AgentConfig,
        source: Source,
        *,
        transport: Transport | None = None,
        buffer: Buffer | None = None,
        dry_run: bool = False,
        on_status: Callable[[AgentStatus], None] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.source = source
        self.dry_run = dry_run
        self.transport: Transport = transport or (DryRunTransport() if dry_run else MqttTransport(config))
        self.buffer = buffer or Buffer(
            ":memory:" if dry_run else config.buffer_path,
            max_readings=config.buffer_max_readings,
            max_age_s=config.buffer_max_age_s,
            synchronous=config.buffer_sync,
        )
        self.on_status = on_status
        self.clock = clock
        self.monotonic = monotonic
        self.topic = telemetry_topic(config.device_id, config.basic_ingest_rule)
        self.transport.on_connect = self._on_connect
        self.transport.on_disconnect = self._on_disconnect
        self.transport.on_ack = self._on_ack
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        now = monotonic()
        self._publish_bucket = _Bucket(config.max_publish_rate, max(1.0, config.max_publish_rate), now)
        self._drain_bucket = _Bucket(config.drain_rate, max(1.0, config.drain_rate), now)
        self.state = "disconnected"
        self._attempt = 0
        self._next_connect = now
        self._connecting_since: float | None = None
        self._inflight: dict[int, _Flight] = {}
        self._live_floor = self._live_cursor = self._backlog_cursor = 0
        self._next_live = now
        self._next_status = now
        self.last_puback_at: float | None = None
        self.messages_acked = 0
        self.readings_acked = 0
        self.readings_buffered = 0
        restore = getattr(source, "restore", None)
        if restore is not None:
            restore(self.buffer.meta("sim_energy_wh"))

    # --- running ---------------------------------------------------------------------------------------

    def run(self, duration_s: float | None = None) -> None:
        """Run until :meth:`stop` (or ``duration_s``); everything unsent stays in the buffer for next time."""
        deadline = None if duration_s is None else self.monotonic() + duration_s
        self.source.start()
        log.info("agent %s: publishing to %s as %s; buffer %s holds %d readings", self.config.device_id,
                 self.transport.description, self.config.mqtt_client_id, self.buffer.path, self.buffer.count())
        try:
            while not self._stop.is_set() and (deadline is None or self.monotonic() < deadline):
                try:
                    self.step()
                except Exception:
                    # The loop outlives any one fault (a full disk under the buffer, a broken reading): what is
                    # unsent stays buffered, and the next step tries again after a pause.
                    log.exception("agent %s: step failed; retrying in 1 s", self.config.device_id)
                    self._stop.wait(1.0)
            self._flush()
        finally:
            self.source.stop()
            self.transport.close()
            self._emit_status()
            self.buffer.close()

    def start(self) -> threading.Thread:
        """Run on a background thread (tests, embedding)."""
        self._thread = threading.Thread(target=self.run, name=f"agent-{self.config.device_id}", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def step(self) -> None:
        readings = self.source.poll()
        if readings:
            self.readings_buffered += self.buffer.append(readings, self.source.state())
        now = self.monotonic()
        if self.state == "connected":
            self._send(now)
            self.transport.loop(0.02)
        elif self.state == "connecting":
            self.transport.loop(0.05)
            if self.state == "connecting" and self._connecting_since is not None \
                    and now - self._connecting_since > _CONNACK_TIMEOUT_S:
                self.transport.close()
                self._on_disconnect("no CONNACK")
        elif now >= self._next_connect:
            self._connect(now)
        else:
            self._stop.wait(min(0.05, self._next_connect - now))
        if now >= self._next_status:
            self._next_status = now + self.config.status_interval_s
            self.buffer.enforce_age(int(self.clock() * 1000))
            self._emit_status()

    # --- status ----------------------------------------------------------------------------------------

    def status(self) -> AgentStatus:
        oldest = self.buffer.oldest_ts_ms()
        now = self.clock()
        state = self.state
        if state == "disconnected":
            state = f"disconnected (retry in {max(0.0, self._next_connect - self.monotonic()):.1f} s)"
        return AgentStatus(
            device_id=self.config.device_id,
            state=state,
            broker=self.transport.description,
            backlog=self.buffer.count(),
            oldest_age_s=None if oldest is None else max(0.0, now - oldest / 1000),
            in_flight=len(self._inflight),
            last_puback_age_s=None if self.last_puback_at is None else now - self.last_puback_at,
            readings_buffered=self.readings_buffered,
            messages_acked=self.messages_acked,
            readings_acked=self.readings_acked,
            dropped=self.buffer.dropped,
            refused=self.buffer.refused_count(),
            bad_input=dict(self.source.rejected),
        )

    def _emit_status(self) -> None:
        status = self.status()
        if self.on_status is not None:
            self.on_status(status)
        else:
            log.info("%s", status.line())

    # --- connection ------------------------------------------------------------------------------------

    def _connect(self, now: float) -> None:
        self.state = "connecting"
        self._connecting_since = now
        try:
            self.transport.connect()
        except (OSError, ValueError) as exc:
            self._on_disconnect(f"cannot connect: {exc}")

    def _on_connect(self, ok: bool, reason: str) -> None:
        if not ok:
            self._on_disconnect(f"refused: {reason}")
            return
        self.state = "connected"
        self._attempt = 0
        self._inflight.clear()
        self._live_floor = self.buffer.max_id() + 1
        self._live_cursor = self._live_floor - 1
        self._backlog_cursor = 0
        self._next_live = self.monotonic() + self.config.batch_interval_s
        backlog = self.buffer.count()
        log.info("agent %s: connected to %s%s", self.config.device_id, self.transport.description,
                 f"; draining a backlog of {backlog} readings" if backlog else "")

    def _on_disconnect(self, reason: str) -> None:
        was = self.state
        self.state = "disconnected"
        self._connecting_since = None
        self._inflight.clear()  # their rows are still buffered: re-sent after the reconnect
        cap = min(self.config.reconnect_max_s, self.config.reconnect_min_s * 2 ** min(self._attempt, 20))
        delay = random.uniform(self.config.reconnect_min_s, max(self.config.reconnect_min_s, cap))  # noqa: S311
        self._attempt += 1
        self._next_connect = self.monotonic() + delay
        level = logging.WARNING if was == "connected" or self._attempt == 1 else logging.INFO
        log.log(level, "agent %s: %s (%s); reconnecting in %.1f s", self.config.device_id,
                "connection lost" if was == "connected" else "not connected", reason, delay)

    # --- sending ---------------------------------------------------------------------------------------

    def _send(self, now: float) -> None:
        cfg = self.config
        # Live lane first, with one in-flight slot that the backlog may not use.
        if now >= self._next_live and len(self._inflight) < cfg.max_inflight:
            rows = self.buffer.rows(self._live_cursor, None, _MAX_SAMPLES)
            if rows and self._publish_bucket.take(now):
                used = self._publish(rows, "live")
                if used:
                    self._live_cursor = rows[used - 1].id
                    if used == len(rows):
                        self._next_live = now + cfg.batch_interval_s
            elif not rows:
                self._next_live = now + cfg.batch_interval_s
        while (
            self.state == "connected"
            and self._backlog_cursor < self._live_floor - 1
            and len(self._inflight) < cfg.max_inflight - 1
        ):
            rows = self.buffer.rows(self._backlog_cursor, self._live_floor, cfg.drain_batch)
            if not rows:
                self._backlog_cursor = self._live_floor - 1
                log.info("agent %s: backlog sent; waiting for its PUBACKs", cfg.device_id)
                break
            if not (self._drain_bucket.take(now) and self._publish_bucket.take(now)):
                break
            used = self._publish(rows, "backlog")
            if not used:
                break
            self._backlog_cursor = rows[used - 1].id

    def _publish(self, rows: list[Row], lane: str) -> int:
        payload, used = build_message(self.config.device_id, rows)
        mid = self.transport.publish(self.topic, payload)
        if mid is None:
            return 0
        self._inflight[mid] = _Flight(rows[0].id, rows[used - 1].id, used, lane)
        return used

    def _on_ack(self, mid: int, ok: bool, code: int, reason: str) -> None:
        flight = self._inflight.pop(mid, None)
        if flight is None:
            return
        if ok:
            self.buffer.delete(flight.first_id, flight.last_id)
            self.messages_acked += 1
            self.readings_acked += flight.count
            self.last_puback_at = self.clock()
            return
        if code in PERMANENT_REFUSALS:
            n = self.buffer.refuse(flight.first_id, flight.last_id, f"broker refused the publish: {reason}")
            log.error("agent %s: broker refused %d readings on %s: %s (kept aside in the buffer's refused table)",
                      self.config.device_id, n, self.topic, reason)
            return
        log.warning("agent %s: PUBACK %s for %d readings: reconnecting to send them again",
                    self.config.device_id, reason, flight.count)
        self.transport.close()
        self._on_disconnect(f"PUBACK {reason}")

    def _flush(self, wait_s: float = 2.0) -> None:
        """On a clean stop: send what is due and give the PUBACKs a moment (the buffer keeps the rest)."""
        if self.state != "connected":
            return
        self.readings_buffered += self.buffer.append(self.source.poll(), self.source.state())
        self._next_live = 0.0
        deadline = self.monotonic() + wait_s
        while self.state == "connected" and self.monotonic() < deadline:
            self._send(self.monotonic())
            self.transport.loop(0.02)
            if not self._inflight and self._live_cursor >= self.buffer.max_id() \
                    and self._backlog_cursor >= self._live_floor - 1:
                break
