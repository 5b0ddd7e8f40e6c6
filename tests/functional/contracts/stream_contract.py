"""Stream port contract (LocalStream, a Kinesis stream, ...): order per shard, sequence numbers, checkpoints.

To run it against another backend, provide a ``stream_factory`` fixture returning a zero-argument callable
that builds a fresh empty stream, and ``from functional.contracts.stream_contract import *`` (see
store_contract.py).
"""

from __future__ import annotations

from collections.abc import Callable

from energymon.ports import Stream

StreamFactory = Callable[[], Stream]


def test_contract_given_records_when_put_then_each_partition_key_reads_back_in_order_on_one_shard(
    stream_factory: StreamFactory,
) -> None:
    stream = stream_factory()
    records = [(f"apt-{i % 5}", f"{i}".encode()) for i in range(50)]
    placed = stream.put_records(records)
    assert len(placed) == 50 and all(shard in stream.shard_ids() for shard, _ in placed)
    for key in {k for k, _ in records}:
        shards = {placed[i][0] for i, (k, _) in enumerate(records) if k == key}
        assert len(shards) == 1, "one partition key, one shard: per-device order is kept"
        [shard] = shards
        got = [rec.data for rec in stream.get_records(shard, None, 1000) if rec.partition_key == key]
        assert got == [d for k, d in records if k == key]


def test_contract_given_a_shard_when_read_after_a_sequence_number_then_only_later_records_come(
    stream_factory: StreamFactory,
) -> None:
    stream = stream_factory()
    placed = stream.put_records([("apt-12", b"a"), ("apt-12", b"b"), ("apt-12", b"c")])
    shard = placed[0][0]
    first = stream.get_records(shard, None, 2)
    assert [r.data for r in first] == [b"a", b"b"]
    assert [r.sequence_number for r in first] == [placed[0][1], placed[1][1]]
    assert [r.data for r in stream.get_records(shard, first[-1].sequence_number, 10)] == [b"c"]
    assert all(r.shard_id == shard and r.arrival_s > 0 for r in first)


def test_contract_given_checkpoints_when_set_then_lag_and_positions_are_per_consumer(
    stream_factory: StreamFactory,
) -> None:
    stream = stream_factory()
    placed = stream.put_records([("apt-12", b"a"), ("apt-12", b"b"), ("apt-12", b"c")])
    shard = placed[0][0]
    assert stream.get_checkpoint("processor", shard) is None
    assert stream.lag("processor") == 3
    stream.set_checkpoint("processor", shard, placed[1][1])
    assert stream.get_checkpoint("processor", shard) == placed[1][1]
    assert stream.lag("processor") == 1 and stream.lag("other") == 3


def test_contract_given_more_records_when_put_later_then_sequence_numbers_keep_increasing(
    stream_factory: StreamFactory,
) -> None:
    stream = stream_factory()
    first = stream.put_records([("apt-12", b"a")])
    second = stream.put_records([("apt-12", b"b")])
    assert int(second[0][1]) > int(first[0][1])
