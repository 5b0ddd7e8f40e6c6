"""The small interfaces the processor and the query side depend on.

Each port has one public face; every adapter (local and AWS) passes the same contract suite in
``tests/functional/contracts``.
"""

from __future__ import annotations

import abc
import hashlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from energymon.domain.timebuckets import label_hour, zone

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from zoneinfo import ZoneInfo

    from energymon.domain.alerts.notification import Notification
    from energymon.domain.alerts.state import IncidentState
    from energymon.domain.energy import MinuteEnergy
    from energymon.domain.reading import Reading

__all__ = [
    "Archive",
    "DeadLetter",
    "DeadLetters",
    "StoredLetter",
    "bounded",
    "local_start_ms",
    "DeviceSummary",
    "Metrics",
    "Notifier",
    "AlertEvent",
    "AlertOutbox",
    "AlertState",
    "OutboxItem",
    "Period",
    "Resolution",
    "Rollup",
    "Store",
    "StoreReader",
    "StoreWriter",
    "Stream",
    "StreamRecord",
]

Resolution = str  # "minute" | "hour" | "day" | "month"
RESOLUTIONS = ("minute", "hour", "day", "month")


@dataclass(frozen=True, slots=True)
class StreamRecord:
    shard_id: str
    sequence_number: str
    partition_key: str
    data: bytes
    arrival_s: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Something that could not be processed, kept with a reason a person can read."""

    stage: str  # "bridge" | "processor" | "poller"
    code: str
    reason: str
    payload: bytes
    source: str = ""  # topic, or shard:sequence
    detail: dict[str, Any] = field(default_factory=dict)
    at_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Period:
    """One row of a consumption query, cut in the device's zone."""

    start: str  # ISO-8601 local (minute/hour), or YYYY-MM-DD / YYYY-MM
    start_ms: int
    import_kwh: float
    export_kwh: float
    peak_power_w: float | None
    samples: int
    gap_minutes: int = 0  # minutes of the period inside a gap longer than max_gap (see README)


@dataclass(frozen=True, slots=True)
class DeviceSummary:
    device_id: str
    readings: int
    last_ts_ms: int | None
    last_power_w: float | None
    last_energy_wh: float | None


class Stream(abc.ABC):
    """A sharded, durable log with per-consumer checkpoints (Kinesis, or its local twin)."""

    @abc.abstractmethod
    def shard_ids(self) -> list[str]: ...

    @abc.abstractmethod
    def put_records(self, records: Sequence[tuple[str, bytes]]) -> list[tuple[str, str]]:
        """Append (partition_key, data) pairs durably; return (shard_id, sequence_number) for each."""

    @abc.abstractmethod
    def get_records(self, shard_id: str, after: str | None, limit: int) -> list[StreamRecord]: ...

    @abc.abstractmethod
    def get_checkpoint(self, consumer: str, shard_id: str) -> str | None: ...

    @abc.abstractmethod
    def set_checkpoint(self, consumer: str, shard_id: str, sequence_number: str) -> None: ...

    @abc.abstractmethod
    def lag(self, consumer: str) -> int:
        """Records appended but not yet checkpointed by ``consumer``, over all shards."""


@dataclass(frozen=True, slots=True)
class Rollup:
    """Sums of one stored row (a minute, hour, day or month) as a backend hands them to the read side."""

    import_mwh: int
    export_mwh: int
    peak_w: float | None
    samples: int
    gap_minutes: int = 0

    def period(self, start: str, start_ms: int) -> Period:
        return Period(start, start_ms, self.import_mwh / 1e6, self.export_mwh / 1e6, self.peak_w, self.samples,
                      self.gap_minutes)


class StoreWriter(abc.ABC):
    """What the processor writes and reads back: raw readings, and minute energy with its rollups.

    Backends implement ``add_readings``' hook ``_add_readings``, ``readings_around`` and ``_replace_minutes``;
    the other reads have generic defaults over ``readings_around`` that a backend may replace with one query.
    """

    @contextmanager
    def unit_of_work(self, device_id: str, *, exclusive: bool = False) -> Iterator[None]:
        """Group one device's calls of one batch; a backend may buffer them and write them together on exit.

        ``exclusive``: another writer may be handling the same device right now (SQS delivers to concurrent
        invocations); the backend must keep the two apart or raise StoreError, which retries the batch.
        """
        del device_id, exclusive
        yield

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Hold one batch's units of work; a backend may commit them together on exit. A unit of work that fails
        inside is undone alone; a failure on exit is the whole batch's."""
        yield

    #: ``newest_reading`` answers from one indexed read: the processor then writes a batch newer than everything
    #: stored without reading its own readings back (a backend that buffers or estimates leaves it False).
    answers_newest: bool = False

    def newest_reading(self, device_id: str) -> Reading | None:
        """The device's newest stored reading (None: it has none); asked only when ``answers_newest``."""
        raise NotImplementedError

    def add_readings(self, device_id: str, readings: Sequence[Reading]) -> int:
        """Keep raw readings, ignoring any already stored (same device and timestamp); return how many were new."""
        return self._add_readings(device_id, readings) if readings else 0

    @abc.abstractmethod
    def _add_readings(self, device_id: str, readings: Sequence[Reading]) -> int:
        """``add_readings`` for at least one reading."""

    @abc.abstractmethod
    def readings_around(self, device_id: str, start_ms: int, end_ms: int) -> list[Reading]:
        """Readings in [start, end] plus the nearest one before and the nearest one after, in time order."""

    def readings_before(self, device_id: str, before_ms: int, limit: int) -> list[Reading]:
        """Up to ``limit`` readings strictly before ``before_ms``, in time order.

        A generic default over ``readings_around``; backends should override it with one query.
        """
        out: list[Reading] = []
        cursor = before_ms
        while len(out) < limit:
            earlier = [r for r in self.readings_around(device_id, cursor, cursor) if r.ts_ms < cursor]
            if not earlier:
                break
            out.append(earlier[-1])
            cursor = earlier[-1].ts_ms
        return out[::-1]

    def readings_after(self, device_id: str, after_ms: int, limit: int) -> list[Reading]:
        """Up to ``limit`` readings strictly after ``after_ms``, in time order (a generic default)."""
        out: list[Reading] = []
        cursor = after_ms
        while len(out) < limit:
            later = [r for r in self.readings_around(device_id, cursor + 1, cursor + 1) if r.ts_ms > cursor]
            if not later:
                break
            out.append(later[0])
            cursor = later[0].ts_ms
        return out

    def counter_readings(
        self, device_id: str, ts_ms: int, limit: int, *, forward: bool, within_ms: int
    ) -> list[Reading]:
        """Up to ``limit`` readings carrying the import counter nearest to ``ts_ms`` (strictly after it when
        ``forward``, else strictly before), no further than ``within_ms`` away, in time order.

        A generic default over ``readings_around``; backends should override it with one indexed query.
        """
        if forward:
            window = self.readings_around(device_id, ts_ms + 1, ts_ms + within_ms)
            return [r for r in window if ts_ms < r.ts_ms <= ts_ms + within_ms and r.energy_wh is not None][:limit]
        window = self.readings_around(device_id, ts_ms - within_ms, ts_ms - 1)
        found = [r for r in window if ts_ms - within_ms <= r.ts_ms < ts_ms and r.energy_wh is not None]
        return found[-limit:]

    def replace_minutes(
        self, device_id: str, start_ms: int, end_ms: int, minutes: Sequence[MinuteEnergy], tz_name: str
    ) -> None:
        """Make [start, end) hold exactly ``minutes`` and bring every hour/day/month rollup above them up to date.

        An unknown zone is refused before anything is written.
        """
        self._replace_minutes(device_id, start_ms, end_ms, minutes, tz_name, zone(tz_name))

    @abc.abstractmethod
    def _replace_minutes(
        self, device_id: str, start_ms: int, end_ms: int, minutes: Sequence[MinuteEnergy], tz_name: str,
        tz: ZoneInfo,
    ) -> None: ...


class StoreReader(abc.ABC):
    """What the query side reads: devices, consumption per local period, energy for costing, raw readings.

    ``periods`` validates the resolution, cuts local days and months and labels every period once, here;
    backends implement ``_utc_rollups`` (minutes and hours, keyed by their UTC start) and ``_local_rollups``
    (days and months, keyed ``YYYY-MM-DD`` / ``YYYY-MM``).
    """

    def periods(
        self, device_id: str, resolution: Resolution, start_ms: int, end_ms: int, tz_name: str
    ) -> list[Period]:
        """Stored periods of ``resolution`` in [start, end), cut and labelled in ``tz_name``, oldest first."""
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}")
        tz = zone(tz_name)
        if resolution in ("minute", "hour"):
            rollups = self._utc_rollups(device_id, resolution, start_ms, end_ms)
            return [s.period(label_hour(k, tz), k) for k, s in rollups]
        first = datetime.fromtimestamp(start_ms / 1000, tz).strftime("%Y-%m-%d")
        last = datetime.fromtimestamp((end_ms - 1) / 1000, tz).strftime("%Y-%m-%d")
        width = 10 if resolution == "day" else 7
        rows = self._local_rollups(device_id, resolution, first[:width], last[:width], tz)
        return [s.period(k, local_start_ms(k, tz)) for k, s in rows]

    @abc.abstractmethod
    def _utc_rollups(
        self, device_id: str, resolution: Resolution, start_ms: int, end_ms: int
    ) -> Iterable[tuple[int, Rollup]]:
        """Minute or hour rows starting in [start, end) that hold energy, in time order."""

    @abc.abstractmethod
    def _local_rollups(
        self, device_id: str, resolution: Resolution, first: str, last: str, tz: ZoneInfo
    ) -> Iterable[tuple[str, Rollup]]:
        """Day or month rows with keys in [first, last] that hold energy, in key order."""

    @abc.abstractmethod
    def devices(self) -> list[DeviceSummary]: ...

    @abc.abstractmethod
    def energy_sums(self, device_id: str, ranges: Sequence[tuple[int, int]]) -> list[int]:
        """Import energy (mWh) stored for each UTC [start, end) range, minute-aligned (for costing)."""

    @abc.abstractmethod
    def readings_around(self, device_id: str, start_ms: int, end_ms: int) -> list[Reading]:
        """Readings in [start, end] plus the nearest one before and the nearest one after, in time order."""


class Store(StoreWriter, StoreReader):
    """A backend that is both sides (SQLite, DynamoDB): what a composition root builds and hands out."""


def local_start_ms(key: str, tz: ZoneInfo) -> int:
    """The UTC instant (ms) a local day ``YYYY-MM-DD`` or month ``YYYY-MM`` starts in ``tz``."""
    day = key if len(key) == 10 else f"{key}-01"
    return int(datetime.fromisoformat(day).replace(tzinfo=tz).timestamp() * 1000)


class Archive(abc.ABC):
    """Raw readings as compressed NDJSON: one object per batch and UTC date (``raw/date=.../``), not per device."""

    @abc.abstractmethod
    def put_readings(self, batch_id: str, readings: Sequence[Reading]) -> list[str]:
        """Write the batch (idempotently under ``batch_id``); return the keys written."""


# A rejected payload is kept only this far: enough to see what was sent, never a megabyte per attack.
DEAD_LETTER_PAYLOAD_PREFIX = 4096
GIVEN_UP = "delivery_failed"  # the code of accepted records the poller gave up on: kept whole, reprocessable


def bounded(letter: DeadLetter) -> DeadLetter:
    """A rejection keeps a prefix of its payload plus the payload's size and SHA-256.

    Records the poller gave up on are accepted data (reprocessable), so they are kept whole: their size is
    already bounded by the message limit the bridge enforced.
    """
    if letter.code == GIVEN_UP or len(letter.payload) <= DEAD_LETTER_PAYLOAD_PREFIX:
        return letter
    detail = {**letter.detail, "payload_bytes": len(letter.payload),
              "payload_sha256": hashlib.sha256(letter.payload).hexdigest(),
              "payload_truncated_to": DEAD_LETTER_PAYLOAD_PREFIX}
    return DeadLetter(letter.stage, letter.code, letter.reason, letter.payload[:DEAD_LETTER_PAYLOAD_PREFIX],
                      letter.source, detail, letter.at_s)


@dataclass(frozen=True, slots=True)
class StoredLetter:
    """A dead letter as kept, with the id ``mark_reprocessed`` takes."""

    id: str
    letter: DeadLetter


class DeadLetters(abc.ABC):
    """Everything rejected or given up on. ``put`` bounds each letter (see :func:`bounded`) before storing."""

    def put(self, letters: Sequence[DeadLetter]) -> None:
        if letters:
            self._put([bounded(letter) for letter in letters])

    @abc.abstractmethod
    def _put(self, letters: Sequence[DeadLetter]) -> None: ...

    @abc.abstractmethod
    def recent(self, limit: int = 50) -> list[DeadLetter]: ...

    @abc.abstractmethod
    def count(self) -> int: ...

    def given_up(self, limit: int = 10_000) -> list[StoredLetter]:
        """Records the poller gave up on and nobody has reprocessed yet, oldest first."""
        raise NotImplementedError(f"{type(self).__name__} cannot list given-up records for reprocessing")

    def mark_reprocessed(self, ids: Sequence[str]) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot mark records as reprocessed")


class Notifier(abc.ABC):
    @abc.abstractmethod
    def notify(self, subject: str, message: str) -> None: ...


class Metrics(abc.ABC):
    @abc.abstractmethod
    def count(self, name: str, value: float = 1, **labels: str) -> None: ...

    @abc.abstractmethod
    def observe(self, name: str, value: float, **labels: str) -> None: ...

    def flush(self) -> None:  # noqa: B027 - most backends have nothing to flush
        """Emit buffered metrics (EMF writes at the end of an invocation)."""


@dataclass(frozen=True)
class OutboxItem:
    """One notification waiting for one channel."""

    key: str  # Notification.key
    channel: str  # the channel's configured name
    body: dict[str, Any]  # Notification.body(), kept as sent
    attempts: int = 0
    next_attempt_s: float = 0.0
    last_error: str = ""


class AlertOutbox(abc.ABC):
    """Notifications to send, at most once per (key, channel): ``add`` of a key already there changes nothing.

    A state change and its outbox rows are written by the evaluator; the dispatcher sends what is ``due`` and
    marks each row sent or failed (with the time of the next attempt), so a channel that is down holds up no other.
    """

    @abc.abstractmethod
    def add(self, items: Sequence[OutboxItem]) -> int:
        """Store new rows (existing (key, channel) pairs are left as they are); returns how many were new."""

    @abc.abstractmethod
    def due(self, now_s: float, limit: int = 100) -> list[OutboxItem]: ...

    @abc.abstractmethod
    def sent(self, key: str, channel: str, at_s: float) -> None: ...

    @abc.abstractmethod
    def failed(self, key: str, channel: str, error: str, next_attempt_s: float) -> None: ...

    @abc.abstractmethod
    def pending(self) -> list[OutboxItem]:
        """Every row not yet sent (for ``alerts list`` and metrics)."""

    def defer(self, key: str, channel: str, until_s: float, reason: str) -> None:
        """Hold a row until ``until_s`` (a channel's quiet hours) without it counting as a failed attempt.

        This default records it as a failure, which also counts an attempt (its backoff then starts one step
        later); adapters should override it to keep ``attempts`` unchanged.
        """
        self.failed(key, channel, reason, until_s)

@dataclass(frozen=True)
class AlertEvent:
    """A notification as the history keeps it: what was sent (or would be, without channels) and when."""

    notification: Notification
    at_ms: int


class AlertState(abc.ABC):
    """Each (rule, device)'s :class:`IncidentState`, written conditionally on its ``version``.

    ``put`` writes the new state, its notifications into the history and their outbox rows in ONE transaction
    (locally one SQLite transaction; on DynamoDB one TransactWriteItems), so a crash between a state change and
    its send never loses the notification, and two evaluators of the same change never both send it.
    """

    @abc.abstractmethod
    def get(self, rule: str, device_id: str) -> IncidentState | None: ...

    @abc.abstractmethod
    def states(self) -> list[IncidentState]:
        """Every stored state, by rule then device."""

    @abc.abstractmethod
    def put(self, state: IncidentState, expected_version: int, notifications: Sequence[Notification] = (),
            outbox: Sequence[OutboxItem] = ()) -> bool:
        """Store ``state`` as version ``expected_version + 1`` if the stored one is still ``expected_version``
        (0: none stored yet), with its history and outbox rows; False (and nothing written) if it is not."""

    @abc.abstractmethod
    def history(self, device_id: str | None = None, limit: int = 50) -> list[AlertEvent]:
        """Recorded notifications, newest first (one per key: a replay records nothing new)."""
