"""GIVEN the DynamoDB store with raw_retention_days, its TTL acting on schedule and the scheduled pass that pins
silence openers, WHEN raw readings expire and late data arrives next to what expired, THEN every minute, hour,
day and month comes out exactly as in a table that never expired anything (the local rule, tests/scenarios/
test_retention.py, on the AWS store) — and the expiry itself changes no rollup."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from botocore.config import Config

from energymon.adapters.aws.dynamodb_retention import pin_openers
from energymon.adapters.aws.dynamodb_store import DynamoDBStore
from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.domain.reading import MAX_READING_AGE_MS, Reading, encode_message
from energymon.ports import StreamRecord
from energymon.processing import Processor, ZoneResolver
from energymon.processing.retention import minimum_raw_retention_days

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

DEVICE = "meter-9"
DAY = 86_400_000
MIN = 60_000
RETENTION_DAYS = minimum_raw_retention_days(24)  # the shortest retention the settings accept
NOW = (int(time.time()) // 3600) * 3_600_000


class _Clock:
    def __init__(self) -> None:
        self.ms = NOW - 80 * DAY

    def __call__(self) -> float:
        return self.ms / 1000


class _Site:
    def __init__(self, table: str, ddb: Any, root: Path, clock: _Clock, retention: float | None) -> None:
        self.ddb, self.table, self.clock = ddb, table, clock
        self.store = DynamoDBStore(table, client=ddb, raw_retention_days=retention, clock=clock)
        self.processor = Processor(self.store, FolderArchive(root / "archive"), SqliteDeadLetters(root / "dl.db"),
                                   PrometheusMetrics(), ZoneResolver("Europe/Berlin"), clock=clock)
        self.seq = 0
        self.expired = 0
        self.pin_s = 0.0

    def deliver(self, readings: list[Reading], arrival_ms: int | None = None) -> None:
        for start in range(0, len(readings), 60):
            chunk = readings[start:start + 60]
            self.seq += 1
            body = orjson.loads(encode_message(DEVICE, self.seq, chunk))
            body["topic_device_id"] = DEVICE
            arrived = arrival_ms if arrival_ms is not None else chunk[-1].ts_ms + MIN
            self.clock.ms = max(self.clock.ms, arrived)
            record = StreamRecord("shardId-000000000000", str(self.seq), DEVICE, orjson.dumps(body), arrived / 1000)
            assert self.processor.handle(kinesis_event([record], "arn:aws:kinesis:local:0:stream/s")) == {
                "batchItemFailures": []}

    def ttl_pass(self) -> None:
        """What DynamoDB's TTL does (moto does not): delete every item whose expires_at has passed."""
        now_s = self.clock()
        # An item expires a retention after its write (here: within a minute of its readings), and days pass one
        # at a time: a few days' minutes hold every item that expired since the last pass.
        oldest_young = f"M#{int(self.clock.ms - (RETENTION_DAYS - 1) * DAY):013d}"
        pages = self.ddb.get_paginator("query").paginate(
            TableName=self.table, KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
            ExpressionAttributeValues={":pk": {"S": f"D#{DEVICE}"}, ":lo": {"S": f"M#{max(int(self.clock.ms - (RETENTION_DAYS + 3) * DAY), 0):013d}"},
                                       ":hi": {"S": oldest_young}})
        for item in (i for page in pages for i in page["Items"]):
            if "expires_at" in item and float(item["expires_at"]["N"]) <= now_s:
                self.ddb.delete_item(TableName=self.table, Key={"pk": item["pk"], "sk": item["sk"]})
                self.expired += 1

    def days_pass(self, until_ms: int) -> None:
        """Time goes by a day at a time: the scheduled pinning pass, then the TTL."""
        while self.clock.ms < until_ms:
            self.clock.ms = min(self.clock.ms + DAY, until_ms)
            started = time.perf_counter()
            pin_openers(self.store, self.clock())
            self.pin_s += time.perf_counter() - started
            self.ttl_pass()

    def rollups(self) -> dict[str, list[tuple[str, int, int]]]:
        return {res: [(p.start, round(p.import_kwh * 1e6), p.gap_minutes)
                      for p in self.store.periods(DEVICE, res, 0, 2**42, "Europe/Berlin")]
                for res in ("minute", "hour", "day", "month")}


def _meter(start_ms: int, count: int, step_ms: int, first_wh: float, power_only_every: int = 0) -> list[Reading]:
    """A counter rising 100 W on average (uneven: 50 W then 150 W half-days), with power-only samples between."""
    out, energy = [], first_wh
    for i in range(count):
        ts = start_ms + i * step_ms
        watts = 50.0 if (ts // (DAY // 2)) % 2 else 150.0
        energy += watts * step_ms / 3_600_000
        if power_only_every and i % power_only_every:
            out.append(Reading(DEVICE, ts, watts, None))
        else:
            out.append(Reading(DEVICE, ts, watts, round(energy, 3)))
    return out


@pytest.fixture
def sites(session: Any, moto_endpoint: str, new_table: Any, tmp_path: Path) -> tuple[_Site, _Site]:
    # A 45-day silence makes moto scan tens of thousands of minute items per transaction: minutes, not 60 s.
    ddb = session.client("dynamodb", endpoint_url=moto_endpoint,
                         config=Config(read_timeout=900, retries={"max_attempts": 1}))
    return (_Site(new_table(), ddb, tmp_path / "kept", _Clock(), None),
            _Site(new_table(), ddb, tmp_path / "ttl", _Clock(), RETENTION_DAYS))


# A 45-day silence closes about 1,100 hours, and moto takes minutes over it: run on purpose with
# `pytest -m bench tests/integration/aws/test_ttl_retention.py` (the local rule's own test runs in every suite).
@pytest.mark.bench
@pytest.mark.timeout(1800)
def test_late_data_inside_a_silence_whose_start_expired_is_recomputed_exactly(sites: tuple[_Site, _Site]) -> None:
    kept, ttl = sites
    # GIVEN two hours of readings 46 days ago, a silence, then two hours ending half a day ago — while the TTL
    # and the pinning pass run every day
    early = _meter(NOW - 46 * DAY, 2 * 12 + 1, 5 * MIN, 1_000_000.0, power_only_every=3)  # ends on a counter
    last_wh = max(r.energy_wh for r in early if r.energy_wh is not None)
    recent = _meter(NOW - DAY // 2, 2 * 12, 5 * MIN, last_wh + 110_000.0)
    for site in sites:
        site.deliver(early)
        site.days_pass(recent[0].ts_ms - MIN)
        site.deliver(recent)
        site.days_pass(NOW)

    # THEN the old raw readings expired — all but the minute that opens the silence, the one before and the
    # counter readings before those (10 of the 25) — and no rollup differs
    assert ttl.expired == 15
    assert ttl.rollups() == kept.rollups()
    before = ttl.rollups()
    # WHEN readings of 30 days ago (inside the silence) arrive late, now
    late = _meter(NOW - 30 * DAY, 12, 5 * MIN, 1_030_000.0)
    for site in sites:
        site.deliver(late, arrival_ms=NOW)

    # THEN the expired table holds exactly the energy of the table that kept everything
    after = ttl.rollups()
    assert after == kept.rollups()
    assert after != before  # the late data did change the silence's rollups
    assert all(mwh >= 0 for _, mwh, _ in after["minute"])
    total = sum(mwh for _, mwh, _ in after["day"])
    rise_mwh = ((recent[-1].energy_wh or 0) - (early[0].energy_wh or 0)) * 1000
    assert abs(total - rise_mwh) <= len(after["minute"]) / 2


def test_late_data_at_the_oldest_accepted_age_next_to_expired_readings_is_recomputed_exactly(
    sites: tuple[_Site, _Site],
) -> None:
    kept, ttl = sites
    # GIVEN a counter read every 5 minutes: six hours that have expired by now (but for the few that open the
    # silence after them, which a reading at the oldest accepted age could still reach), and six hours around
    # the oldest accepted age, power-only samples between, whose hour at that age is held back
    history = (_meter(NOW - 45 * DAY, 6 * 12, 5 * MIN, 2_000_000.0)
               + _meter(NOW - MAX_READING_AGE_MS - 3 * 3_600_000, 6 * 12, 5 * MIN, 2_030_000.0, power_only_every=4))
    held_back = {i for i, r in enumerate(history) if NOW - MAX_READING_AGE_MS + 3_600_000 <= r.ts_ms
                 < NOW - MAX_READING_AGE_MS + 2 * 3_600_000}
    for site in sites:
        site.deliver([r for i, r in enumerate(history) if i not in held_back])
        site.clock.ms = NOW - 40 * DAY
        site.days_pass(NOW)
    assert ttl.expired > 50
    # WHEN the held-back hour arrives now
    for site in sites:
        site.deliver([history[i] for i in sorted(held_back)], arrival_ms=NOW)
    # THEN both tables agree on every rollup
    assert ttl.rollups() == kept.rollups()
