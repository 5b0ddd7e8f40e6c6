"""Archive port contract (FolderArchive, an S3 archive, ...): gzip NDJSON, one object per batch and UTC date under raw/date=.../.

Provide an ``archive_factory`` fixture returning ``(archive, read)`` where ``read(key) -> bytes`` fetches an
object the archive wrote, and ``from functional.contracts.archive_contract import *`` (see store_contract.py).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable

import orjson

from energymon.domain.reading import Reading, parse_ts
from energymon.ports import Archive

ArchiveFactory = Callable[[], tuple[Archive, Callable[[str], bytes]]]
T0 = parse_ts("2026-11-27T23:59:58Z")


def test_contract_given_a_batch_when_archived_then_there_is_one_object_per_utc_date(
    archive_factory: ArchiveFactory,
) -> None:
    archive, read = archive_factory()
    readings = [Reading("apt-12", T0 + i * 1000, power_w=float(i), energy_wh=10.0 + i) for i in range(4)]
    readings.append(Reading("apt-7", T0, power_w=5.0))
    keys = archive.put_readings("shardId-000000000000-1-5", readings)
    assert sorted(keys) == [
        "raw/date=2026-11-27/shardId-000000000000-1-5.ndjson.gz",
        "raw/date=2026-11-28/shardId-000000000000-1-5.ndjson.gz",
    ]
    first_day = [orjson.loads(line) for line in gzip.decompress(read(sorted(keys)[0])).splitlines()]
    assert first_day == [r.to_dict() for r in (*readings[0:2], readings[4])]  # by device, then time
    rows = [orjson.loads(line) for line in gzip.decompress(read(sorted(keys)[1])).splitlines()]
    assert rows == [r.to_dict() for r in readings[2:4]]


def test_contract_given_the_same_batch_when_archived_again_then_the_same_objects_are_rewritten(
    archive_factory: ArchiveFactory,
) -> None:
    archive, read = archive_factory()
    readings = [Reading("apt-12", T0, energy_wh=1.0)]
    first = archive.put_readings("b-1", readings)
    body = read(first[0])
    assert archive.put_readings("b-1", readings) == first
    assert read(first[0]) == body
