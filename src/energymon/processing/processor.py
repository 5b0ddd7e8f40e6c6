"""Decode a Kinesis- or SQS-shaped batch, derive energy, write through the ports, report partial failures.

The same ``Processor.handle`` is the Lambda handler (runtimes/lambda_handler.py) and what the local
poller invokes (adapters/local/poller.py), with the same event and the same ``batchItemFailures`` answer.
Both buffers go through one path: processing/event_shapes.py says where each kind of record keeps its bytes.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.utilities.batch import BatchProcessor

from energymon.domain.energy import MINUTE_MS, EnergyParams, derive_minutes, floor_minute
from energymon.domain.reading import MAX_RECORD_BYTES, Reading, decode_body, parse_payload
from energymon.domain.timebuckets import zone
from energymon.errors import RejectedReading
from energymon.processing.event_shapes import EventShape, shape_of

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.common import DictWrapper

    from energymon.ports import Archive, DeadLetters, Metrics, StoreWriter

    class AlertHook(Protocol):
        def after_batch(self, device_id: str, now_ms: int) -> object: ...

from energymon.ports import DeadLetter

__all__ = ["ParamsResolver", "Processor", "ZoneResolver"]

log = logging.getLogger(__name__)

# Readings after a batch whose intervals it can change, and readings of history that settle a
# counter's state (jitter high-water mark, spike pending confirmation) before the recomputed span.
_REACH = 2
_WARM_UP = 8
# How far to look for the counter readings around a batch: a counter silent for longer than this no longer
# brackets the power-only readings in between (keeps a device without a counter from scanning its history).
_COUNTER_REACH_MS = 7 * 24 * 3_600_000
# Readings of one batch further apart than this are recomputed as separate spans.
_CLUSTER_GAP_MS = 3_600_000


@dataclass(frozen=True)
class ZoneResolver:
    """Each device's IANA zone: an explicit mapping, else the default."""

    default: str = "UTC"
    devices: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        zone(self.default)
        for name in self.devices.values():
            zone(name)

    def __call__(self, device_id: str) -> str:
        return self.devices.get(device_id, self.default)


@dataclass(frozen=True)
class ParamsResolver:
    """Each device's energy limits: an explicit mapping, else the default (one dict get per device and batch)."""

    default: EnergyParams = field(default_factory=EnergyParams)
    devices: dict[str, EnergyParams] = field(default_factory=dict)

    def __call__(self, device_id: str) -> EnergyParams:
        return self.devices.get(device_id, self.default)


@dataclass
class _Batch:
    readings: dict[str, list[Reading]] = field(default_factory=lambda: defaultdict(list))
    sequences: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    rejected: list[DeadLetter] = field(default_factory=list)
    arrival_ms: dict[str, int] = field(default_factory=dict)  # per device: the latest arrival (alerts' "now")
    stored: list[str] = field(default_factory=list)  # devices whose readings were written
    concurrent: bool = False  # another invocation may hold the same devices (SQS)


class Processor:
    """Stateless between invocations: all state lives behind the ports, so replays are harmless."""

    def __init__(
        self,
        store: StoreWriter,
        archive: Archive,
        dead_letters: DeadLetters,
        metrics: Metrics,
        zones: ZoneResolver | None = None,
        params: EnergyParams | ParamsResolver | None = None,
        clock: Any = time.time,
        alerts: AlertHook | None = None,
    ) -> None:
        self.store = store
        self.archive = archive
        self.dead_letters = dead_letters
        self.metrics = metrics
        self.zones = zones or ZoneResolver()
        # One EnergyParams for every device (tests, benchmarks) or a per-device resolver (the composition roots).
        self.params = params if isinstance(params, ParamsResolver) else ParamsResolver(params or EnergyParams())
        self.clock = clock
        self.alerts = alerts  # instant alert rules, evaluated after each device's write

    def handle(self, event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        started = time.perf_counter()
        records = event.get("Records") or []
        batch = _Batch()
        now_ms = int(self.clock() * 1000)

        shape = shape_of(records)
        batch.concurrent = shape.concurrent_per_device

        def decode(record: DictWrapper) -> None:
            raw = record.raw_event
            try:
                readings = _decode_record(shape, raw, now_ms)
            except RejectedReading as rejected:
                batch.rejected.append(
                    DeadLetter(
                        stage="processor",
                        code=rejected.code,
                        reason=rejected.reason,
                        payload=shape.raw(raw),
                        source=shape.source(raw),
                        at_s=now_ms / 1000,
                    )
                )
                return
            device = readings[0].device_id
            batch.readings[device].extend(readings)
            batch.sequences[device].append(shape.identifier(raw))
            arrival = shape.arrival_ms(raw, now_ms)
            batch.arrival_ms[device] = max(arrival, batch.arrival_ms.get(device, arrival))

        # Powertools owns the partial-response contract: a record whose handler raises is reported in
        # batchItemFailures by its sequence number (Kinesis) or message id (SQS).
        processor = BatchProcessor(event_type=shape.event_type, raise_on_entire_batch_failure=False)
        with processor(records, decode):
            processor.process()
        failures = [{"itemIdentifier": str(f["itemIdentifier"])} for f in processor.response()["batchItemFailures"]]

        if batch.rejected:
            self.dead_letters.put(batch.rejected)
            for letter in batch.rejected:
                self.metrics.count("readings_rejected", 1, reason=letter.code)
        failures += self._store(batch)
        if self.alerts is not None:
            self._evaluate_alerts(batch)
        if batch.readings:
            failures += self._archive_or_fail(shape, records, batch, {f["itemIdentifier"] for f in failures})
        self.metrics.observe("batch_seconds", time.perf_counter() - started)
        self.metrics.flush()
        return {"batchItemFailures": failures}

    def _store(self, batch: _Batch) -> list[dict[str, str]]:
        """Each device's readings in its own unit of work; the failures of the devices that could not be written.

        The store comes first: it is what users read. One device's failure must not fail the others.
        """
        failures: list[dict[str, str]] = []
        written: list[str] = []
        try:
            with self.store.batch():
                for device, readings in batch.readings.items():
                    try:
                        with self.store.unit_of_work(device, exclusive=batch.concurrent):
                            self._apply(device, readings)
                    except Exception:
                        log.exception("writing device %s failed; its records will be retried", device)
                        failures.extend({"itemIdentifier": seq} for seq in batch.sequences[device])
                        self.metrics.count("device_write_failures", 1)
                    else:
                        written.append(device)
        except Exception:
            # The batch's commit failed (disk full, I/O error): none of it stands, every device is retried.
            log.exception("committing the batch failed; its %d devices will be retried", len(written))
            for device in written:
                failures.extend({"itemIdentifier": seq} for seq in batch.sequences[device])
            self.metrics.count("device_write_failures", len(written))
            return failures
        for device in written:
            self.metrics.count("readings_processed", len(batch.readings[device]))
        batch.stored.extend(written)
        return failures

    def _evaluate_alerts(self, batch: _Batch) -> None:
        """Instant rules of each device written, as of its batch's arrival. The readings are stored whatever
        happens here: a failing evaluation is logged and counted, and the next batch evaluates what it missed."""
        assert self.alerts is not None
        for device in batch.stored:
            try:
                self.alerts.after_batch(device, batch.arrival_ms[device])
            except Exception:
                log.exception("evaluating the alert rules of %s failed; the next batch evaluates again", device)
                self.metrics.count("alert_evaluation_failures", 1)

    def _archive_or_fail(
        self, shape: EventShape, records: list[dict[str, Any]], batch: _Batch, reported: set[str]
    ) -> list[dict[str, str]]:
        """The archive is a side output: if it fails, the records are reported failed and retried (the store
        ignores what it already holds), so an archive outage delays the archive, never the readings."""
        try:
            self._archive(shape, records, batch)
        except Exception as exc:
            # A file system fault (read-only, full) is the environment's, said in one line; anything else is
            # ours, with its traceback.
            log.error("archiving %d records failed (%s); they are stored and will be retried for the archive",
                      len(records), exc, exc_info=not isinstance(exc, OSError))
            self.metrics.count("archive_failures", 1)
            return [{"itemIdentifier": seq} for seqs in batch.sequences.values() for seq in seqs
                    if seq not in reported]
        return []

    def _archive(self, shape: EventShape, records: list[dict[str, Any]], batch: _Batch) -> None:
        all_readings = [r for group in batch.readings.values() for r in group]
        self.archive.put_readings(shape.batch_id(records), all_readings)

    def _apply(self, device: str, readings: list[Reading]) -> None:
        """Store raw readings, then recompute every minute their intervals touch, from the store's truth.

        New readings change the energy of the intervals from the reading before them to the reading after
        them; with a counter they also change which power-only intervals the counter brackets (back to the
        previous counter reading) and a pending spike's fate (up to _REACH counter readings after). Those
        minutes are derived again from the stored readings, with _WARM_UP counter readings of history so the
        counter's state is the one a derivation from the very first reading would have: batch order and
        duplicates never change the result.
        """
        times = [r.ts_ms for r in readings]
        if times == sorted(set(times)):  # the usual batch: one device's records in order, no duplicates
            unique = readings
        else:
            unique = sorted({r.ts_ms: r for r in readings}.values(), key=_ts)
            times = [r.ts_ms for r in unique]
        # Readings far apart in one batch are recomputed one cluster at a time: three samples a month
        # apart must not make the processor re-derive the whole month between them.
        params = self.params(device)
        clusters = _clusters(times)
        if len(clusters) == 1 and self.store.answers_newest:
            newest = self.store.newest_reading(device)
            if newest is None or newest.ts_ms < times[0]:
                self._append(device, unique, newest, params)
                return
        self.store.add_readings(device, unique)
        for lo, hi in clusters:
            self._recompute(device, lo, hi, params)

    def _append(self, device: str, readings: list[Reading], newest: Reading | None, params: EnergyParams) -> None:
        """``_recompute`` for a batch newer than everything stored (nearly every batch), without reading the
        batch back: nothing stored follows it, so its context is the stored readings up to its first one and
        then the batch itself. Same edges, same span, same minutes (tests/functional/test_processor_append.py)."""
        store = self.store
        lo, hi = readings[0].ts_ms, readings[-1].ts_ms
        span_lo = floor_minute(lo)
        context = readings
        if newest is not None:
            first = newest.ts_ms
            if newest.energy_wh is None:
                nearest = store.counter_readings(device, lo, 1, forward=False, within_ms=_COUNTER_REACH_MS)
                first = min([first, *(r.ts_ms for r in nearest)])
            span_lo = floor_minute(first)
            # Stored readings of the span plus the one before it; nothing stored lies at or after ``lo``.
            context = [*store.readings_around(device, span_lo, lo - 1), *readings]
        history = self._history(device, context)
        store.add_readings(device, readings)
        self._derive(device, [*history, *context], span_lo, floor_minute(hi) + MINUTE_MS, params)

    def _recompute(self, device: str, lo: int, hi: int, params: EnergyParams) -> None:
        store = self.store
        edges = [lo, hi]
        before = store.readings_before(device, lo, 1)
        if before:
            edges.append(before[0].ts_ms)
            if before[0].energy_wh is None:
                nearest = store.counter_readings(device, lo, 1, forward=False, within_ms=_COUNTER_REACH_MS)
                edges += [r.ts_ms for r in nearest]
        edges += [r.ts_ms for r in store.readings_after(device, hi, 1)]
        following = store.counter_readings(device, hi, _REACH, forward=True, within_ms=_COUNTER_REACH_MS)
        edges += [r.ts_ms for r in following]
        span_lo = floor_minute(min(edges))
        span_hi = floor_minute(max(edges)) + MINUTE_MS
        # readings_around adds the neighbours beyond each edge: the intervals that reach into edge minutes.
        context = store.readings_around(device, span_lo, span_hi - 1)
        self._derive(device, [*self._history(device, context), *context], span_lo, span_hi, params)

    def _history(self, device: str, context: list[Reading]) -> list[Reading]:
        """The counter readings before the context that settle the counter's state (the warm-up)."""
        return self.store.counter_readings(device, context[0].ts_ms, _WARM_UP, forward=False,
                                           within_ms=_COUNTER_REACH_MS)

    def _derive(self, device: str, readings: list[Reading], span_lo: int, span_hi: int, params: EnergyParams) -> None:
        """Derive the minutes of [span_lo, span_hi) from ``readings`` and make the store hold exactly those."""
        minutes = derive_minutes(readings, params)
        kept = [m for m in minutes.values() if span_lo <= m.minute_ms < span_hi]
        self.store.replace_minutes(device, span_lo, span_hi, kept, self.zones(device))


def _ts(reading: Reading) -> int:
    return reading.ts_ms


def _clusters(times: list[int]) -> list[tuple[int, int]]:
    """(first, last) of each run of sorted times whose neighbours are at most ``_CLUSTER_GAP_MS`` apart."""
    if times[-1] - times[0] <= _CLUSTER_GAP_MS:  # no two neighbours can be further apart than the ends
        return [(times[0], times[-1])]
    out = []
    start = times[0]
    for previous, current in zip(times, times[1:], strict=False):
        if current - previous > _CLUSTER_GAP_MS:
            out.append((start, previous))
            start = current
    out.append((start, times[-1]))
    return out


def _decode_record(shape: EventShape, record: dict[str, Any], clock_ms: int) -> list[Reading]:
    """A record's readings, or a rejection — whatever its bytes.

    A message is judged as of its arrival in the buffer, so a replay days later decides as the first
    delivery did. Decoding is pure: any other exception is the input's fault too, and retrying it would
    only block the shard (or cycle the message through the queue), so it becomes a rejection with the
    exception named.
    """
    try:
        data = shape.payload(record)
        body = parse_payload(data, MAX_RECORD_BYTES)
        topic_device = body.get("topic_device_id") if isinstance(body, dict) else None
        return decode_body(body, topic_device, shape.arrival_ms(record, clock_ms))
    except RejectedReading:
        raise
    except Exception as exc:  # noqa: BLE001 - see the docstring
        raise RejectedReading(f"the record could not be decoded ({type(exc).__name__}: {str(exc)[:200]})",
                              "undecodable") from None
