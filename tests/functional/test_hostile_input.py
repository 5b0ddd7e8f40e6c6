"""Issue 9 at the core: hostile records never stop or stall the handler, one reading's work is bounded, the
dead-letter store is bounded, and an archive outage keeps nothing out of the store and is recovered by
``reprocess`` — the local adapters on tmp_path, the real poller over a real LocalStream."""

from __future__ import annotations

import gzip
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.poller import EventSourceMapping, ShardPoller
from energymon.adapters.local.reprocess import reprocess_given_up
from energymon.adapters.local.store import SqliteStore
from energymon.adapters.local.stream import LocalStream
from energymon.domain.reading import MAX_READING_AGE_MS, Reading, encode_message, format_ts
from energymon.ports import DEAD_LETTER_PAYLOAD_PREFIX, GIVEN_UP, Archive, DeadLetter, StreamRecord
from energymon.processing import Processor, ZoneResolver

ARN = "arn:aws:kinesis:local:000000000000:stream/test"
NOW_MS = int(time.time() * 1000) // 60_000 * 60_000
MIN = 60_000


def record(seq: int, data: bytes, device: str = "apt-1", arrival_s: float | None = None) -> StreamRecord:
    return StreamRecord("shardId-000000000000", str(seq), device, data, arrival_s or NOW_MS / 1000)


def message(device: str, readings: list[Reading], seq: int = 1) -> bytes:
    body = orjson.loads(encode_message(device, seq, readings))
    body["topic_device_id"] = device
    return orjson.dumps(body)


def counter(device: str, start_ms: int, minutes: int, wh_per_minute: float = 5.0) -> list[Reading]:
    return [Reading(device, start_ms + m * MIN, 300.0, 100_000.0 + m * wh_per_minute) for m in range(minutes)]


def processor_on(root: Path, store: Any = None, archive: Archive | None = None) -> tuple[Processor, Any, Any]:
    store = store or SqliteStore(root / "store.db")
    dead = SqliteDeadLetters(root / "dl.db")
    return Processor(store, archive or FolderArchive(root / "archive"), dead, PrometheusMetrics(),
                     ZoneResolver("UTC")), store, dead


def kwh(store: SqliteStore, device: str) -> float:
    return sum(p.import_kwh for p in store.periods(device, "day", 0, 2**42, "UTC"))


# --- hostile records -----------------------------------------------------------------------------------

HOSTILE = [
    # (data, expected code): each used to raise something other than a rejection somewhere
    (b'{"v":1,"device_id":"apt-1","topic_device_id":"apt-1","samples":[{"ts":1e300,"power_w":1}]}',
     "bad_timestamp"),
    (b'{"v":1,"device_id":"apt-1","topic_device_id":"apt-1","samples":[{"ts":-5,"power_w":1}]}', "bad_timestamp"),
    (b'{"v":1,"device_id":"apt-1","topic_device_id":"apt-1","samples":[{"ts":"0001-01-01T00:00:00+01:00",'
     b'"power_w":1}]}', "implausible"),
    (b'{"v":1,"device_id":"apt-1","topic_device_id":"apt-1","samples":[{"ts":"9999-12-31T23:59:59Z",'
     b'"power_w":1}]}', "implausible"),
    (b"[" * 2000 + b"]" * 2000, "not_json"),
    (b"\xff\xfe\x00garbage", "not_json"),
]


@pytest.mark.parametrize(("data", "code"), HOSTILE, ids=[str(i) for i in range(len(HOSTILE))])
def test_given_a_hostile_record_when_handled_then_it_is_rejected_with_a_reason_and_the_batch_goes_on(
    tmp_path: Path, data: bytes, code: str
) -> None:
    processor, store, dead = processor_on(tmp_path)
    good = message("apt-2", counter("apt-2", NOW_MS - 10 * MIN, 3))
    # WHEN the hostile record sits between good ones
    response = processor.handle(kinesis_event([record(1, good, "apt-2"), record(2, data), record(3, good, "apt-2")],
                                              ARN))
    # THEN nothing is retried (a retry could never succeed), the good readings are stored ...
    assert response == {"batchItemFailures": []}
    assert kwh(store, "apt-2") == pytest.approx(0.010)
    # ... and the hostile one is kept with a reason a person can read
    [letter] = dead.recent()
    assert (letter.stage, letter.code) == ("processor", code)
    assert letter.reason


def test_given_an_error_no_rule_foresaw_when_decoding_then_the_record_is_rejected_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import energymon.processing.processor as module

    def explode(*_: Any, **__: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(module, "decode_body", explode)
    processor, _, dead = processor_on(tmp_path)
    response = processor.handle(kinesis_event([record(1, message("apt-1", counter("apt-1", NOW_MS, 1)))], ARN))
    assert response == {"batchItemFailures": []}
    [letter] = dead.recent()
    assert letter.code == "undecodable"
    assert "RecursionError" in letter.reason


# --- bounded work ------------------------------------------------------------------------------------------

def test_given_a_reading_older_than_the_window_when_handled_then_it_is_refused_as_too_old(tmp_path: Path) -> None:
    processor, store, dead = processor_on(tmp_path)
    old = NOW_MS - MAX_READING_AGE_MS - 3_600_000
    recent = NOW_MS - MAX_READING_AGE_MS + 3_600_000
    processor.handle(kinesis_event([record(1, message("apt-1", [Reading("apt-1", old, 100.0)])),
                                    record(2, message("apt-1", [Reading("apt-1", recent, 100.0)]))], ARN))
    [letter] = dead.recent()
    assert letter.code == "too_old"
    assert format_ts(old) in letter.reason and "35 days" in letter.reason
    assert [d.readings for d in store.devices()] == [1]


def test_given_a_replay_days_later_then_the_age_is_judged_at_arrival_not_at_replay(tmp_path: Path) -> None:
    # A record that arrived in time is still accepted when it is replayed (or reprocessed) weeks later.
    processor, store, dead = processor_on(tmp_path)
    arrived_s = (NOW_MS - 40 * 86_400_000) / 1000
    reading = Reading("apt-1", NOW_MS - 41 * 86_400_000, 100.0, 5.0)
    response = processor.handle(kinesis_event([record(1, message("apt-1", [reading]), arrival_s=arrived_s)], ARN))
    assert response == {"batchItemFailures": []}
    assert dead.count() == 0
    assert store.devices()[0].readings == 1


class CountingStore(SqliteStore):
    """The SQLite store, counting the readings the processor reads back to recompute."""

    read_back = 0

    def readings_around(self, device_id: str, start_ms: int, end_ms: int) -> list[Reading]:
        out = super().readings_around(device_id, start_ms, end_ms)
        self.read_back += len(out)
        return out


def test_given_samples_weeks_apart_in_one_message_then_only_their_neighbourhoods_are_recomputed(
    tmp_path: Path,
) -> None:
    # GIVEN 30 days of a counter read every minute (43,200 readings)
    store = CountingStore(tmp_path / "store.db")
    processor, _, _ = processor_on(tmp_path, store)
    start = NOW_MS - 30 * 86_400_000
    history = counter("apt-1", start, 30 * 1440)
    records = [record(i + 1, message("apt-1", history[i:i + 1440], i + 1)) for i in range(0, len(history), 1440)]
    for i in range(0, len(records), 10):
        assert processor.handle(kinesis_event(records[i:i + 10], ARN)) == {"batchItemFailures": []}
    before = kwh(store, "apt-1")
    # WHEN one message carries three late samples 10 days apart, between readings already stored
    late = [Reading("apt-1", start + (d * 1440 + 7) * MIN + 30_000, 300.0, None) for d in (5, 15, 25)]
    store.read_back = 0
    assert processor.handle(kinesis_event([record(999, message("apt-1", late, 999))], ARN)) == {
        "batchItemFailures": []}
    # THEN the work is a few minutes around each, not the 20 days between them
    assert store.read_back < 500
    # AND the energy is unchanged: power-only samples inside counter intervals add nothing
    assert kwh(store, "apt-1") == pytest.approx(before)


# --- bounded dead letters ----------------------------------------------------------------------------------

def test_given_a_flood_of_oversized_rejections_then_the_store_keeps_prefixes_and_stays_bounded(tmp_path: Path) -> None:
    dead = SqliteDeadLetters(tmp_path / "dl.db", max_bytes=512 * 1024)
    payload = b"x" * (1024 * 1024)  # 1 MB each: 1,040 of them took 650 MB before
    for i in range(300):
        dead.put([DeadLetter("bridge", "too_large", "message is 1048576 bytes", payload + str(i).encode(),
                             "energy/apt-1/telemetry")])
    given_up = DeadLetter("poller", GIVEN_UP, "retries exhausted", b"p" * 100_000, "shardId-000000000000:7",
                          {"KinesisBatchInfo": {"shardId": "shardId-000000000000"}})
    dead.put([given_up])
    dead.trim()
    newest = dead.recent(1)[0]
    # THEN each rejection keeps a prefix, its size and its hash ...
    rejection = dead.recent(2)[1]
    assert len(rejection.payload) == DEAD_LETTER_PAYLOAD_PREFIX
    assert rejection.detail["payload_bytes"] == 1024 * 1024 + 3
    assert len(rejection.detail["payload_sha256"]) == 64
    # ... accepted data given up on is kept whole and never trimmed ...
    assert newest.payload == given_up.payload
    assert len(dead.given_up()) == 1
    # ... the rejections are trimmed to the bound, and the trimmed ones are counted
    assert dead.count() + dead.trimmed() == 301
    assert dead.trimmed() > 0
    kept = dead.count() - 1
    assert kept * DEAD_LETTER_PAYLOAD_PREFIX <= 512 * 1024
    assert (tmp_path / "dl.db").stat().st_size < 10 * 1024 * 1024


def test_given_rejections_older_than_the_age_bound_then_they_are_trimmed_and_counted(tmp_path: Path) -> None:
    dead = SqliteDeadLetters(tmp_path / "dl.db", max_age_s=3600)
    dead.put([DeadLetter("bridge", "schema", "bad", b"{}", "t")])
    assert dead.trim(now=time.time() + 7200) == 1
    assert (dead.count(), dead.trimmed()) == (0, 1)


# --- an archive outage --------------------------------------------------------------------------------------

class FlakyArchive(Archive):
    """The folder archive behind a switch: while ``broken``, every write fails as a read-only disk would."""

    def __init__(self, root: Path) -> None:
        self.inner = FolderArchive(root)
        self.broken = True

    def put_readings(self, batch_id: str, readings: Any) -> list[str]:
        if self.broken:
            raise OSError(30, "Read-only file system", str(self.inner.root))
        return self.inner.put_readings(batch_id, readings)


def archived(root: Path) -> set[tuple[str, str]]:
    out = set()
    for path in root.rglob("*.ndjson.gz"):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            row = orjson.loads(line)
            out.add((row["device_id"], row["ts"]))
    return out


def test_given_a_broken_archive_then_readings_reach_the_store_and_reprocess_fills_the_archive(tmp_path: Path) -> None:
    archive = FlakyArchive(tmp_path / "archive")
    processor, store, dead = processor_on(tmp_path, archive=archive)
    stream = LocalStream(tmp_path / "stream.db", shards=1)
    shard = stream.shard_ids()[0]
    slept: list[float] = []
    poller = ShardPoller(stream, shard, processor.handle,
                         EventSourceMapping(batch_size=10, batching_window_s=0, max_retry_attempts=3), dead,
                         PrometheusMetrics(), sleep=slept.append)
    readings = counter("apt-1", NOW_MS - 30 * MIN, 30)
    stream.put_records([("apt-1", message("apt-1", readings[i:i + 10], i)) for i in range(0, 30, 10)])
    # WHEN the archive fails for longer than the retries
    while poller.poll_once():
        pass
    # THEN every reading is in the store anyway (what users read never waits for a side output) ...
    assert store.devices()[0].readings == 30
    assert kwh(store, "apt-1") == pytest.approx(29 * 5 / 1000)
    # ... the retries backed off (1, 2, 4 s) instead of spinning ...
    assert slept[:3] == [1.0, 2.0, 4.0]
    # ... and the batch waits, whole, in the dead-letter store
    assert len(dead.given_up()) == 3
    assert archived(tmp_path / "archive") == set()
    # WHEN the cause is fixed and the given-up records are reprocessed (twice)
    archive.broken = False
    first = reprocess_given_up(dead, processor.handle)
    again = reprocess_given_up(dead, processor.handle)
    # THEN the archive holds every reading, the store is unchanged, and the second run had nothing to do
    assert (first.records, first.stored, first.failed) == (3, 3, 0)
    assert again.records == 0
    assert archived(tmp_path / "archive") == {("apt-1", format_ts(r.ts_ms)) for r in readings}
    assert store.devices()[0].readings == 30
    assert kwh(store, "apt-1") == pytest.approx(29 * 5 / 1000)
    assert dead.given_up() == []


def test_given_reprocessing_fails_again_then_the_records_stay_for_the_next_attempt(tmp_path: Path) -> None:
    archive = FlakyArchive(tmp_path / "archive")
    processor, _, dead = processor_on(tmp_path, archive=archive)
    data = message("apt-1", counter("apt-1", NOW_MS - 5 * MIN, 3))
    dead.put([DeadLetter("poller", GIVEN_UP, "retry attempts exhausted (3)", data, "shardId-000000000000:5",
                         {"KinesisBatchInfo": {"shardId": "shardId-000000000000", "startSequenceNumber": "5",
                                               "endSequenceNumber": "5"}, "partitionKey": "apt-1"})])
    report = reprocess_given_up(dead, processor.handle)
    assert (report.records, report.failed) == (1, 1)
    assert len(dead.given_up()) == 1


# --- the device agent's readers --------------------------------------------------------------------------------

def test_given_a_telegram_the_parser_chokes_on_then_the_p1_reader_counts_it_and_reads_on() -> None:
    from energymon.agent.sources import P1Source

    source = P1Source("socket://127.0.0.1:1", "apt-1", "Europe/Amsterdam")

    def choke(*_: Any, **__: Any) -> list[Reading]:
        raise IndexError("list index out of range")  # what a parser bug looks like from outside

    source._decode_dsmr = choke  # type: ignore[assignment]
    # WHEN a telegram makes the decoder raise something that is not a rejection
    assert source.feed("/XMX5LGF\r\n!0000\r\n") == []
    # THEN it is counted and logged as undecodable, and the reader is still usable
    assert source.rejected == {"undecodable": 1}
