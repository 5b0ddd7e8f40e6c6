"""The local twin of Lambda's Kinesis event source mapping.

Semantics follow AWS (see shared FACTS.md): batches of up to ``batch_size`` records or whatever
arrived within ``batching_window_s``; one batch in flight per shard; ``batchItemFailures`` checkpoint
before the lowest failed sequence number and retry from there; on a function error the batch is
bisected; after ``max_retry_attempts`` or ``max_record_age_s`` the records go to the on-failure
destination with their batch info, so a poison record never blocks a shard for ever.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.event_source import mapping_problems
from energymon.health import Health, guarded
from energymon.ports import GIVEN_UP, DeadLetter

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from energymon.ports import DeadLetters, Metrics, Stream, StreamRecord

__all__ = ["EventSourceMapping", "ShardPoller", "Poller"]

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class EventSourceMapping:
    """The settings of ``aws_lambda_event_source_mapping`` that matter to delivery, with AWS's ranges."""

    batch_size: int = 100
    batching_window_s: float = 10.0
    bisect_on_error: bool = True
    max_retry_attempts: int = 10
    max_record_age_s: float = 3600.0
    poll_interval_s: float = 0.2
    stream_arn: str = "arn:aws:kinesis:local:000000000000:stream/energymon"

    def __post_init__(self) -> None:
        problems = mapping_problems(self.batch_size, self.batching_window_s, self.max_retry_attempts,
                                    self.max_record_age_s)
        if problems:
            raise ValueError(problems[0])


_ALL = None  # marker: every record of the batch failed


def retry_delay_s(attempt: int) -> float:
    """Wait before retry ``attempt`` (1, 2, ...): 1 s doubling to a minute.

    Lambda retries a failed stream batch at once; locally, a failed batch means a fault of this machine (a
    full disk, a read-only archive) — bad input is rejected, not retried — so the retries are spread over a
    realistic outage: the default ten attempts span about five minutes before the on-failure destination.
    """
    return float(min(2 ** (attempt - 1), 60))


class ShardPoller:
    """Delivers one shard's records to the handler, one batch in flight at a time."""

    def __init__(
        self,
        stream: Stream,
        shard_id: str,
        handler: Callable[[dict[str, Any], Any], dict[str, Any] | None],
        mapping: EventSourceMapping,
        dead_letters: DeadLetters,
        metrics: Metrics,
        consumer: str = "processor",
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] | None = None,
        health: Health | None = None,
    ) -> None:
        self.stream = stream
        self.shard_id = shard_id
        self.handler = handler
        self.mapping = mapping
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.consumer = consumer
        self.clock = clock
        self.stop_event = threading.Event()
        self._sleep = sleep or self.stop_event.wait
        self._waiting_since: float | None = None
        self.health = health or Health()
        self.name = f"poller-{shard_id}"
        self._draining = False  # at shutdown a failing batch stays in the stream instead of being retried

    def poll_once(self, *, flush: bool = False) -> int:
        """Deliver at most one batch if one is due; return how many records were settled."""
        position = self.stream.get_checkpoint(self.consumer, self.shard_id)
        records = self.stream.get_records(self.shard_id, position, self.mapping.batch_size)
        if not records:
            self._waiting_since = None
            return 0
        now = self.clock()
        if self._waiting_since is None:
            self._waiting_since = now
        full = len(records) >= self.mapping.batch_size
        window_over = now - self._waiting_since >= self.mapping.batching_window_s
        if not (full or window_over or flush):
            return 0
        self._waiting_since = None
        return self._deliver(records)

    def run(self) -> None:
        failures = 0
        while not self.stop_event.is_set():
            try:
                settled = self.poll_once()
                failures = 0
            except Exception as exc:
                # The stream itself cannot be read or checkpointed (a full or read-only disk): wait longer
                # each time, up to a minute, rather than spin on it.
                failures += 1
                self.health.degraded(self.name, f"cannot read or checkpoint the stream: {exc}")
                log.exception("poller for %s failed; retrying", self.shard_id)
                self._sleep(min(0.2 * 2**failures, 60.0))
                continue
            if not settled:
                self._sleep(self.mapping.poll_interval_s)

    def drain(self) -> bool:
        """Deliver everything in the shard now, ignoring the window (used at shutdown).

        False when the shard could not be drained: its records stay in the stream for the next start.
        """
        self._draining = True
        try:
            while self.poll_once(flush=True):
                pass
            position = self.stream.get_checkpoint(self.consumer, self.shard_id)
            return not self.stream.get_records(self.shard_id, position, 1)
        except Exception as exc:  # noqa: BLE001 - the caller tells the user where the records still are
            log.warning("draining %s stopped: %s", self.shard_id, exc)
            return False
        finally:
            self._draining = False

    def _deliver(self, batch: Sequence[StreamRecord]) -> int:
        settled = 0
        parts: deque[Sequence[StreamRecord]] = deque([batch])
        while parts:
            part = parts.popleft()
            attempts = 0
            while part:
                expired = self._expired(part)
                if expired:
                    # Only the expired records are discarded (records are in arrival order, so they are a
                    # prefix); the younger ones in the same batch are still delivered.
                    settled += self._give_up(
                        part[:expired], f"record age exceeded {self.mapping.max_record_age_s:.0f} s"
                    )
                    part = part[expired:]
                    continue
                failed_at = self._invoke(part)
                if failed_at == len(part):
                    self.stream.set_checkpoint(self.consumer, self.shard_id, part[-1].sequence_number)
                    settled += len(part)
                    self.health.ok(self.name)
                    break
                if failed_at is _ALL and self.mapping.bisect_on_error and len(part) > 1:
                    middle = len(part) // 2
                    parts.appendleft(part[middle:])
                    parts.appendleft(part[:middle])
                    break
                if failed_at:  # partial failure: checkpoint what succeeded, retry from the lowest failure
                    self.stream.set_checkpoint(self.consumer, self.shard_id, part[failed_at - 1].sequence_number)
                    settled += failed_at
                    part = part[failed_at:]
                attempts += 1
                if 0 <= self.mapping.max_retry_attempts < attempts:
                    settled += self._give_up(part, f"retry attempts exhausted ({self.mapping.max_retry_attempts})")
                    break
                if self.stop_event.is_set() or self._draining:
                    return settled
                self.health.degraded(self.name, f"batch {part[0].sequence_number}..{part[-1].sequence_number} "
                                                f"failed {attempts} time(s); retrying")
                self._sleep(retry_delay_s(attempts))
        return settled

    def _invoke(self, part: Sequence[StreamRecord]) -> int | None:
        """Index of the lowest failed record, ``len(part)`` on success, or ``_ALL`` on a function error."""
        self.metrics.count("poller_batches", 1)
        try:
            response = self.handler(kinesis_event(part, self.mapping.stream_arn), None)
        except Exception:
            log.exception("handler failed on %s records %s..%s", self.shard_id,
                          part[0].sequence_number, part[-1].sequence_number)
            return _ALL
        failures = (response or {}).get("batchItemFailures") or []
        if not failures:
            return len(part)
        positions = {r.sequence_number: i for i, r in enumerate(part)}
        indexes = []
        for failure in failures:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if identifier not in positions:
                log.error("batchItemFailures names unknown record %r: the whole batch failed", identifier)
                return _ALL
            indexes.append(positions[identifier])
        return min(indexes)

    def _expired(self, part: Sequence[StreamRecord]) -> int:
        """How many records at the start of ``part`` are older than ``max_record_age_s``."""
        limit = self.mapping.max_record_age_s
        if limit == -1:
            return 0
        now = self.clock()
        count = 0
        for record in part:
            if now - record.arrival_s <= limit:
                break
            count += 1
        return count

    def _give_up(self, part: Sequence[StreamRecord], reason: str) -> int:
        info = {
            "shardId": self.shard_id,
            "startSequenceNumber": part[0].sequence_number,
            "endSequenceNumber": part[-1].sequence_number,
            "batchSize": len(part),
            "streamArn": self.mapping.stream_arn,
        }
        # Unlike an SQS destination, the local one also keeps the data, as an S3 destination would.
        self.dead_letters.put(
            [
                DeadLetter(
                    stage="poller",
                    code=GIVEN_UP,
                    reason=f"{reason}; batch {info['startSequenceNumber']}..{info['endSequenceNumber']}",
                    payload=r.data,
                    source=f"{r.shard_id}:{r.sequence_number}",
                    detail={"KinesisBatchInfo": info, "partitionKey": r.partition_key,
                            "approximateArrivalTimestamp": r.arrival_s},
                )
                for r in part
            ]
        )
        self.stream.set_checkpoint(self.consumer, self.shard_id, part[-1].sequence_number)
        self.metrics.count("poller_dead_lettered", len(part))
        self.health.degraded(self.name, f"gave up on {len(part)} record(s): {reason}; they are in the dead-letter "
                                        "store (`energymon dead-letters reprocess` puts them back)")
        log.error("gave up on %d records of %s: %s", len(part), self.shard_id, reason)
        return len(part)


class Poller:
    """One thread per shard, as Lambda keeps one batch in flight per shard."""

    def __init__(self, shard_pollers: list[ShardPoller]) -> None:
        self.shard_pollers = shard_pollers
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for sp in self.shard_pollers:
            thread = threading.Thread(target=guarded(sp.name, sp.run, sp.health), name=sp.name, daemon=True)
            thread.start()
            sp.health.watch(sp.name, thread)
            self._threads.append(thread)

    def stop(self, drain: bool = True) -> bool:
        """Stop every shard's thread, then (``drain``) deliver what is left; False if some could not be."""
        for sp in self.shard_pollers:
            sp.health.stopping()
            sp.stop_event.set()
        for thread in self._threads:
            thread.join(timeout=30)
        drained = True
        if drain:
            for sp in self.shard_pollers:
                sp.stop_event.clear()
                drained = sp.drain() and drained
                sp.stop_event.set()
        return drained
