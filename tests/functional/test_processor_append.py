"""The processor's append path (a batch newer than everything stored is not read back) writes exactly what the
general recompute writes: same readings, minutes and rollups, whatever the batches, late ones and gaps included."""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.store import SqliteStore
from energymon.domain.reading import format_ts
from energymon.ports import StreamRecord
from energymon.processing.processor import Processor, ZoneResolver

if TYPE_CHECKING:
    from pathlib import Path

NOW_MS = (int(time.time()) // 86_400 - 1) * 86_400_000  # yesterday: inside the processor's age window
TABLES = ("samples", "minutes", "hours", "days", "months", "devices")


class _ReadBack(SqliteStore):
    """The same store, but the processor may not skip reading a batch back: the general path every time."""

    answers_newest = False


def _processor(root: Path, store: SqliteStore) -> Processor:
    return Processor(store, FolderArchive(root / "archive"), SqliteDeadLetters(root / "dlq.db"),
                     PrometheusMetrics(), ZoneResolver("Europe/Berlin"))


# A sample: seconds after the previous one, then power and counter (either may be absent, never both).
_sample = st.tuples(
    st.one_of(st.integers(1, 90), st.sampled_from([0, 400, 4_000, 7 * 3_600])),
    st.one_of(st.none(), st.floats(0, 5_000, allow_nan=False)),
    st.one_of(st.none(), st.floats(0, 3, allow_nan=False), st.just(-2.0)),
)
# A batch: its samples, and how far back it starts (0: right after the previous batch; more: late data).
_batches = st.lists(st.tuples(st.lists(_sample, min_size=1, max_size=25), st.sampled_from([0, 0, 0, 300, 5_000])),
                    min_size=1, max_size=8)


def _events(spec: list[tuple[list[tuple[int, float | None, float | None]], int]]) -> list[dict]:
    events, ts, counter, seq = [], NOW_MS - 86_400_000 // 2, 1_000.0, 0
    newest = ts
    for samples, back in spec:
        ts = newest - back * 1000
        body = []
        for dt, power, rise in samples:
            ts += dt * 1000
            newest = max(newest, ts)
            sample: dict[str, object] = {"ts": format_ts(ts)}
            if power is not None or rise is None:
                sample["power_w"] = power if power is not None else 0.0
            if rise is not None:
                counter = max(counter + rise, 0.0)
                sample["energy_wh"] = counter
            body.append(sample)
        seq += 1
        data = orjson.dumps({"v": 1, "device_id": "apt-1", "seq": seq, "samples": body, "topic_device_id": "apt-1"})
        events.append(kinesis_event([StreamRecord("shardId-0", str(seq), "apt-1", data, NOW_MS / 1000)],
                                    "arn:aws:kinesis:local:000000000000:stream/t"))
    return events


def _tables(path: Path) -> dict[str, list[tuple]]:
    con = sqlite3.connect(path)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in TABLES}
    finally:
        con.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_batches)
def test_given_any_batches_when_appended_without_reading_back_then_the_store_equals_the_general_path(
    tmp_path: Path, spec: list[tuple[list[tuple[int, float | None, float | None]], int]],
) -> None:
    # GIVEN the same batches WHEN handled by a processor on each path
    run = tmp_path / f"run-{time.monotonic_ns()}"
    fast, general = SqliteStore(run / "fast" / "store.db"), _ReadBack(run / "general" / "store.db")
    for store in (fast, general):
        processor = _processor(store.db.path.parent, store)
        for event in _events(spec):
            assert processor.handle(event) == {"batchItemFailures": []}
        store.db.close()
    # THEN both stores hold the same rows in every table
    assert _tables(fast.db.path) == _tables(general.db.path)


def test_given_a_batch_after_stored_readings_when_handled_then_it_is_not_read_back(tmp_path: Path) -> None:
    # GIVEN a device with stored readings, and a store that records the ranges the processor reads
    reads: list[tuple[int, int]] = []

    class Recording(SqliteStore):
        def readings_around(self, device_id: str, start_ms: int, end_ms: int) -> list:
            reads.append((start_ms, end_ms))
            return super().readings_around(device_id, start_ms, end_ms)

    store = Recording(tmp_path / "store.db")
    processor = _processor(tmp_path, store)
    first, second = _events([([(1, 100.0, 0.1)] * 10, 0), ([(1, 100.0, 0.1)] * 10, 0)])
    processor.handle(first)
    reads.clear()
    # WHEN the next batch, newer than everything stored, is handled
    processor.handle(second)
    # THEN the only range read ends before the batch's first reading
    batch_start = NOW_MS - 86_400_000 // 2 + 11_000
    assert reads and all(end < batch_start for _, end in reads)
