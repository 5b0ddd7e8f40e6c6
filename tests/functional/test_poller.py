"""The local event source mapping over a real LocalStream: Lambda ← Kinesis delivery semantics (FACTS.md)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.poller import EventSourceMapping, ShardPoller
from energymon.adapters.local.stream import LocalStream

ARN = "arn:aws:kinesis:local:000000000000:stream/test"
Response = dict[str, Any] | None


class Clock:
    """Injected time: starts at the wall clock (the stream stamps arrivals with it) and moves only when told."""

    def __init__(self) -> None:
        self.now = time.time()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Handler:
    """A scripted function: records every batch it sees and answers with ``behaviour(data list)``."""

    def __init__(self, behaviour: Callable[[list[bytes], list[str]], Response] | None = None) -> None:
        self.behaviour = behaviour or (lambda data, seqs: {"batchItemFailures": []})
        self.batches: list[list[bytes]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> Response:
        records = event["Records"]
        assert all(r["eventSourceARN"] == ARN and r["eventSource"] == "aws:kinesis" for r in records)
        data = [base64.b64decode(r["kinesis"]["data"]) for r in records]
        self.batches.append(data)
        return self.behaviour(data, [r["kinesis"]["sequenceNumber"] for r in records])

    @property
    def delivered(self) -> list[bytes]:
        return [d for batch in self.batches for d in batch]


class Rig:
    def __init__(self, root: Path, handler: Handler, **mapping: Any) -> None:
        self.root = root
        self.stream = LocalStream(root / "stream.db", shards=1)
        self.shard = self.stream.shard_ids()[0]
        self.dead_letters = SqliteDeadLetters(root / "dlq.db")
        self.clock = Clock()
        self.handler = handler
        self.mapping = EventSourceMapping(**{"batching_window_s": 0, "stream_arn": ARN, **mapping})
        self.poller = self.new_poller()

    def new_poller(self) -> ShardPoller:
        return ShardPoller(self.stream, self.shard, self.handler, self.mapping, self.dead_letters,
                           PrometheusMetrics(), clock=self.clock, sleep=self.clock.sleep)

    def put(self, *names: str) -> list[str]:
        return [seq for _, seq in self.stream.put_records([("apt-12", n.encode()) for n in names])]

    def checkpoint(self) -> str | None:
        return self.stream.get_checkpoint("processor", self.shard)


def names(n: int, prefix: str = "r") -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def fail_on(poison: bytes, mode: str = "raise") -> Callable[[list[bytes], list[str]], Response]:
    def behaviour(data: list[bytes], seqs: list[str]) -> Response:
        if poison not in data:
            return {"batchItemFailures": []}
        if mode == "raise":
            raise RuntimeError("function error")
        return {"batchItemFailures": [{"itemIdentifier": seqs[data.index(poison)]}]}

    return behaviour


def test_given_records_within_the_batching_window_when_polled_then_nothing_is_invoked_until_it_expires(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, Handler(), batch_size=10, batching_window_s=5)
    rig.put(*names(3))
    assert rig.poller.poll_once() == 0
    rig.clock.now += 4.9
    assert rig.poller.poll_once() == 0
    assert rig.handler.batches == []
    rig.clock.now += 0.1
    assert rig.poller.poll_once() == 3
    assert rig.handler.batches == [[b"r0", b"r1", b"r2"]]


def test_given_a_full_batch_when_polled_then_it_is_invoked_at_once_despite_the_window(tmp_path: Path) -> None:
    rig = Rig(tmp_path, Handler(), batch_size=4, batching_window_s=300)
    rig.put(*names(10))
    assert rig.poller.poll_once() == 4
    assert rig.poller.poll_once() == 4
    assert rig.poller.poll_once() == 0  # 2 left: not full, window not over
    rig.poller.drain()
    assert [len(b) for b in rig.handler.batches] == [4, 4, 2]
    assert rig.handler.delivered == [n.encode() for n in names(10)]


def test_given_a_partial_failure_when_delivered_then_the_checkpoint_stops_before_it_and_retries_from_there(
    tmp_path: Path,
) -> None:
    calls = {"n": 0}

    def flaky(data: list[bytes], seqs: list[str]) -> Response:
        calls["n"] += 1
        if calls["n"] == 1:  # r2 and r4 fail once: Lambda retries from the lowest, r2
            return {"batchItemFailures": [{"itemIdentifier": seqs[4]}, {"itemIdentifier": seqs[2]}]}
        return {"batchItemFailures": []}

    rig = Rig(tmp_path, Handler(flaky), batch_size=10)
    seqs = rig.put(*names(6))
    assert rig.poller.poll_once() == 6
    assert rig.handler.batches == [[n.encode() for n in names(6)], [b"r2", b"r3", b"r4", b"r5"]]
    assert rig.checkpoint() == seqs[-1]
    assert rig.dead_letters.count() == 0


@pytest.mark.parametrize("failure", [{"itemIdentifier": ""}, {"itemIdentifier": "nope"}, {"itemIdentifer": "1"}])
def test_given_an_unknown_or_empty_item_identifier_when_delivered_then_the_whole_batch_is_retried(
    tmp_path: Path, failure: dict[str, str]
) -> None:
    answers = [{"batchItemFailures": [failure]}, {"batchItemFailures": []}]
    rig = Rig(tmp_path, Handler(lambda data, seqs: answers.pop(0)), batch_size=10, bisect_on_error=False)
    rig.put(*names(3))
    assert rig.poller.poll_once() == 3
    assert rig.handler.batches == [[b"r0", b"r1", b"r2"]] * 2


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []}])
def test_given_a_null_or_empty_failure_list_when_delivered_then_the_batch_succeeded(
    tmp_path: Path, response: Response
) -> None:
    rig = Rig(tmp_path, Handler(lambda data, seqs: response), batch_size=10)
    seqs = rig.put(*names(3))
    assert rig.poller.poll_once() == 3
    assert len(rig.handler.batches) == 1 and rig.checkpoint() == seqs[-1]


def test_given_a_function_error_when_bisecting_then_the_poison_record_is_isolated_and_the_rest_delivered(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, Handler(fail_on(b"r5")), batch_size=8, max_retry_attempts=2)
    seqs = rig.put(*names(8))
    assert rig.poller.poll_once() == 8
    # THEN every other record was handled in a batch without the poison ...
    succeeded = [d for batch in rig.handler.batches if b"r5" not in batch for d in batch]
    assert sorted(succeeded) == sorted(n.encode() for n in names(8) if n != "r5")
    # ... the poison alone was retried (1 + max_retry_attempts times) ...
    assert rig.handler.batches.count([b"r5"]) == 3
    # ... and then sent, alone, to the on-failure destination.
    [letter] = rig.dead_letters.recent()
    assert letter.payload == b"r5" and letter.stage == "poller"
    assert letter.detail["KinesisBatchInfo"]["batchSize"] == 1
    assert rig.checkpoint() == seqs[-1]


def test_given_retries_exhausted_when_giving_up_then_the_destination_holds_batch_info_and_the_data(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, Handler(fail_on(b"r1")), batch_size=10, bisect_on_error=False, max_retry_attempts=3)
    seqs = rig.put(*names(3))
    assert rig.poller.poll_once() == 3
    assert len(rig.handler.batches) == 4  # the first attempt and 3 retries
    letters = list(reversed(rig.dead_letters.recent()))
    assert [dl.payload for dl in letters] == [b"r0", b"r1", b"r2"]
    info = letters[0].detail["KinesisBatchInfo"]
    assert info == {"shardId": rig.shard, "startSequenceNumber": seqs[0], "endSequenceNumber": seqs[-1],
                    "batchSize": 3, "streamArn": ARN}
    assert all(dl.code == "delivery_failed" and "retry attempts exhausted" in dl.reason for dl in letters)
    assert [dl.source for dl in letters] == [f"{rig.shard}:{s}" for s in seqs]
    assert rig.checkpoint() == seqs[-1]
    assert rig.clock.slept, "retries back off through the injected sleep"


def test_given_a_partial_failure_that_persists_when_retries_run_out_then_only_the_failing_tail_is_dead_lettered(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, Handler(fail_on(b"r2", mode="report")), batch_size=10, max_retry_attempts=1)
    rig.put(*names(5))
    assert rig.poller.poll_once() == 5
    assert rig.handler.batches[0] == [b"r0", b"r1", b"r2", b"r3", b"r4"]
    assert all(batch[0] == b"r2" for batch in rig.handler.batches[1:])
    assert [dl.payload for dl in reversed(rig.dead_letters.recent())] == [b"r2", b"r3", b"r4"]


def test_given_records_older_than_max_record_age_when_polled_then_only_those_are_dead_lettered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import energymon.adapters.local.stream as stream_module

    rig = Rig(tmp_path, Handler(), batch_size=10, max_record_age_s=60)
    old = rig.put("old0", "old1")
    rig.clock.now += 61  # the old records are now 61 s old, and new ones arrive now
    monkeypatch.setattr(stream_module.time, "time", lambda: rig.clock.now)
    rig.put("new0", "new1")
    assert rig.poller.poll_once() == 4
    letters = list(reversed(rig.dead_letters.recent()))
    assert [dl.payload for dl in letters] == [b"old0", b"old1"]
    assert "record age exceeded 60 s" in letters[0].reason
    assert letters[0].detail["KinesisBatchInfo"]["endSequenceNumber"] == old[-1]
    # The young records of the same batch were still handed to the function.
    assert rig.handler.batches == [[b"new0", b"new1"]]


def test_given_a_poison_record_when_polling_continues_then_records_after_it_are_processed(tmp_path: Path) -> None:
    rig = Rig(tmp_path, Handler(fail_on(b"poison")), batch_size=3, max_retry_attempts=2)
    rig.put("a", "b", "poison", "c", "d", "e")
    for _ in range(10):
        rig.poller.poll_once()
    assert set(rig.handler.delivered) >= {b"a", b"b", b"c", b"d", b"e"}
    assert [dl.payload for dl in rig.dead_letters.recent()] == [b"poison"]
    assert rig.stream.lag("processor") == 0


def test_given_a_restart_when_a_new_poller_starts_then_it_resumes_from_the_checkpoint(tmp_path: Path) -> None:
    rig = Rig(tmp_path, Handler(), batch_size=2)
    rig.put(*names(5))
    assert rig.poller.poll_once() == 2
    # WHEN the process restarts (new stream handle, new poller)
    rig.stream = LocalStream(tmp_path / "stream.db", shards=1)
    rig.handler.batches.clear()
    rig.poller = rig.new_poller()
    rig.poller.drain()
    # THEN delivery resumes after the checkpoint: nothing skipped, nothing delivered twice
    assert rig.handler.delivered == [b"r2", b"r3", b"r4"]
    assert rig.stream.lag("processor") == 0


def test_given_a_mapping_outside_aws_ranges_when_built_then_it_is_refused() -> None:
    for bad in ({"batch_size": 0}, {"batch_size": 10_001}, {"batching_window_s": 301},
                {"max_retry_attempts": -2}, {"max_record_age_s": 59}):
        with pytest.raises(ValueError):
            EventSourceMapping(**bad)
