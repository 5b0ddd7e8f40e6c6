"""Invariant 3 (replays are harmless) and rollup consistency, through the real Processor and SqliteStore.

GIVEN the same readings, WHEN they reach the processor shuffled, duplicated, split into random batches
and replayed, THEN every minute/hour/day/month rollup is identical to the mWh, and every parent equals the
sum of its children (minute → hour → day → month), cut in the device's own zone.

Each property runs on Kinesis-shaped events and on SQS-shaped ones (the lean profile's buffer: at-least-once,
no order at all, a redelivered message keeping its message id).
"""

from __future__ import annotations

import base64
import hashlib
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.store import SqliteStore
from energymon.domain.reading import Reading, encode_message
from energymon.domain.timebuckets import local_keys, zone
from energymon.processing.processor import Processor, ZoneResolver

DEVICE = "apt-12"
# Saturday evening before Berlin falls back (2026-10-25): a 25-hour day and a month end inside the range.
START_MS = 1_792_872_000_000  # 2026-10-24T20:00:00Z
END_MS = START_MS + 9 * 86_400_000
NOW_S = END_MS / 1000 + 86_400
ZONES = ["Europe/Berlin", "Asia/Kathmandu", "Australia/Lord_Howe", "America/St_Johns"]
SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


SHAPES = ["kinesis", "sqs"]


def record(seq: int, payload: bytes, shape: str = "kinesis") -> dict[str, Any]:
    if shape == "sqs":
        return sqs_record(payload)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": DEVICE,
            "sequenceNumber": str(seq),
            "data": base64.b64encode(payload).decode(),
            "approximateArrivalTimestamp": NOW_S,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{seq}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::000000000000:role/test",
        "awsRegion": "local",
        "eventSourceARN": "arn:aws:kinesis:local:000000000000:stream/test",
    }


def sqs_record(payload: bytes) -> dict[str, Any]:
    """The message as Lambda's SQS mapping delivers it; a redelivery of the same message has the same id."""
    message_id = hashlib.sha256(payload).hexdigest()[:32]
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": payload.decode(),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(NOW_S * 1000))},
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(payload).hexdigest(),  # noqa: S324 - SQS's own checksum, not security
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:local:000000000000:test",
        "awsRegion": "local",
    }


def messages_of(readings: list[Reading], sizes: list[int]) -> list[bytes]:
    """Cut readings into messages of 1–3 samples, stamped with the topic device as the IoT rule does."""
    out, i = [], 0
    for n in sizes:
        if i >= len(readings):
            break
        body = orjson.loads(encode_message(DEVICE, len(out), readings[i : i + n]))
        body["topic_device_id"] = DEVICE
        out.append(orjson.dumps(body))
        i += n
    if i < len(readings):
        body = orjson.loads(encode_message(DEVICE, len(out), readings[i:]))
        body["topic_device_id"] = DEVICE
        out.append(orjson.dumps(body))
    return out


Rollups = dict[str, list[tuple[str, int, int, int]]]


def run(tz: str, batches: list[list[bytes]], shape: str = "kinesis") -> tuple[Rollups, SqliteStore]:
    tmp = Path(tempfile.mkdtemp(prefix="rollups-"))
    store = SqliteStore(tmp / "store.db")
    processor = Processor(
        store, FolderArchive(tmp / "archive"), SqliteDeadLetters(tmp / "dlq.db"), PrometheusMetrics(),
        ZoneResolver(default=tz), clock=lambda: NOW_S,
    )
    seq = 0
    for batch in batches:
        records = []
        for payload in batch:
            seq += 1
            records.append(record(seq, payload, shape))
        response = processor.handle({"Records": records}, None)
        assert response == {"batchItemFailures": []}
    assert processor.dead_letters.count() == 0
    return rollups(store, tz), store


def rollups(store: SqliteStore, tz: str) -> Rollups:
    lo, hi = START_MS - 2 * 86_400_000, END_MS + 2 * 86_400_000
    return {
        res: [
            (p.start, round(p.import_kwh * 1e6), round(p.export_kwh * 1e6), p.samples)
            for p in store.periods(DEVICE, res, lo, hi, tz)
        ]
        for res in ("minute", "hour", "day", "month")
    }


def assert_children_sum_to_parents(store: SqliteStore, tz_name: str) -> None:
    tz = zone(tz_name)
    lo, hi = START_MS - 2 * 86_400_000, END_MS + 2 * 86_400_000
    minutes = store.periods(DEVICE, "minute", lo, hi, tz_name)
    hours = store.periods(DEVICE, "hour", lo, hi, tz_name)
    days = store.periods(DEVICE, "day", lo, hi, tz_name)
    months = store.periods(DEVICE, "month", lo, hi, tz_name)

    def mwh(kwh: float) -> int:
        return round(kwh * 1e6)

    by_hour: dict[int, int] = defaultdict(int)
    for m in minutes:
        by_hour[local_keys(m.start_ms, tz).hour_ms] += mwh(m.import_kwh)
    assert {h.start_ms: mwh(h.import_kwh) for h in hours} == dict(by_hour)
    by_day: dict[str, int] = defaultdict(int)
    for m in minutes:
        by_day[local_keys(m.start_ms, tz).day] += mwh(m.import_kwh)
    assert {d.start: mwh(d.import_kwh) for d in days} == dict(by_day)
    by_hour_day: dict[str, int] = defaultdict(int)
    for h in hours:
        by_hour_day[local_keys(h.start_ms, tz).day] += mwh(h.import_kwh)
    assert by_hour_day == by_day
    by_month: dict[str, int] = defaultdict(int)
    for d in days:
        by_month[d.start[:7]] += mwh(d.import_kwh)
    assert {m.start: mwh(m.import_kwh) for m in months} == dict(by_month)
    assert sum(mwh(m.import_kwh) for m in minutes) == sum(mwh(m.import_kwh) for m in months)


@st.composite
def meter_readings(draw: st.DrawFn, anomalies: bool = False) -> list[Reading]:
    """A meter's readings in time order: a rising counter (sometimes power only), gaps up to 3 h."""
    n = draw(st.integers(2, 30))
    # Mostly seconds apart, as meters report; sometimes hours (offline, or a slow meter).
    gaps = draw(st.lists(st.one_of(st.integers(1, 90), st.integers(1, 3 * 3600)), min_size=n, max_size=n))
    ts = START_MS + draw(st.integers(0, 86_400)) * 1000
    energy, out = 50_000.0, []
    for gap in gaps:
        ts += gap * 1000
        power = draw(st.floats(0, 4000, allow_nan=False, width=32))
        energy += round(power * gap / 3600, 1)
        kind = draw(st.sampled_from(["counter", "counter", "power", "jitter", "reset", "spike"]
                                    if anomalies else ["counter"]))
        if kind == "power":
            out.append(Reading(DEVICE, ts, power_w=power))
            continue
        if kind == "jitter":
            out.append(Reading(DEVICE, ts, power_w=power, energy_wh=max(energy - 0.5, 0.0)))
            continue
        if kind == "reset":
            energy = round(power * gap / 3600, 1)
        if kind == "spike":
            out.append(Reading(DEVICE, ts, power_w=power, energy_wh=energy + 5_000_000.0))
            continue
        out.append(Reading(DEVICE, ts, power_w=power, energy_wh=energy,
                           export_wh=float(len(out)) if draw(st.booleans()) else None))
    if not anomalies:
        return out
    # Keep the anomaly kinds apart from power-only readings (a known, separately tested gap).
    return [r for r in out if r.energy_wh is not None] if any(r.energy_wh for r in out) else out


def delivery(draw: st.DrawFn, messages: list[bytes]) -> list[list[bytes]]:
    """The same messages shuffled, some duplicated, cut into random batches, then all replayed once more."""
    shuffled = draw(st.permutations(messages))
    dupes = draw(st.lists(st.sampled_from(messages), max_size=len(messages))) if messages else []
    stream = list(shuffled) + dupes
    stream = draw(st.permutations(stream))
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    batches, last = [], 0
    for cut in [*cuts, len(stream)]:
        if cut > last:
            batches.append(stream[last:cut])
            last = cut
    replay = draw(st.permutations(messages))
    return [*batches, list(replay)]


def check_delivery_is_harmless(data: st.DataObject, anomalies: bool, shape: str) -> None:
    tz = data.draw(st.sampled_from(ZONES))
    readings = data.draw(meter_readings(anomalies=anomalies))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=len(readings), max_size=len(readings)))
    messages = messages_of(readings, sizes)
    # GIVEN the readings delivered once, in order, in one batch
    reference, store = run(tz, [messages])
    assert_children_sum_to_parents(store, tz)
    # WHEN they arrive shuffled, duplicated, in random batches, and are replayed
    scrambled, store = run(tz, delivery(data.draw, messages), shape)
    # THEN every rollup is the same to the mWh, and children still sum to parents
    assert scrambled == reference
    assert_children_sum_to_parents(store, tz)


@pytest.mark.parametrize("shape", SHAPES)
@SETTINGS
@given(data=st.data())
def test_given_a_rising_counter_when_delivered_in_any_order_and_replayed_then_rollups_are_identical(
    data: st.DataObject, shape: str,
) -> None:
    check_delivery_is_harmless(data, anomalies=False, shape=shape)


@pytest.mark.parametrize("shape", SHAPES)
@SETTINGS
@given(data=st.data())
def test_given_jitter_resets_and_spikes_when_delivered_in_any_order_then_rollups_are_identical(
    data: st.DataObject, shape: str,
) -> None:
    check_delivery_is_harmless(data, anomalies=True, shape=shape)


def counter_messages(*points: tuple[int, float]) -> list[bytes]:
    return messages_of([Reading(DEVICE, START_MS + s * 1000, energy_wh=wh) for s, wh in points], [1] * len(points))


def test_given_a_jitter_dip_before_a_later_batch_when_split_then_the_dip_is_not_counted_twice() -> None:
    # Regression: the later batch used to re-derive from the dip, adding the dip (0.5 Wh) back.
    messages = counter_messages((0, 1000.0), (50, 999.5), (70, 1001.0), (130, 1002.0))
    whole, _ = run("UTC", [messages])
    split, _ = run("UTC", [messages[:3], messages[3:]])
    assert split == whole
    assert sum(mwh for _, mwh, _, _ in whole["day"]) == 2_000


def test_given_a_spike_before_a_later_batch_when_split_then_the_energy_after_it_is_kept() -> None:
    messages = counter_messages((0, 1000.0), (50, 1010.0), (70, 900_000.0), (130, 1020.0), (190, 1030.0))
    whole, _ = run("UTC", [messages])
    split, _ = run("UTC", [messages[:4], messages[4:]])
    assert split == whole
    assert sum(mwh for _, mwh, _, _ in whole["day"]) == 30_000


@pytest.mark.parametrize("shape", SHAPES)
@SETTINGS
@given(data=st.data())
def test_given_power_only_meters_when_delivered_in_any_order_then_rollups_are_identical(
    data: st.DataObject, shape: str,
) -> None:
    tz = data.draw(st.sampled_from(ZONES))
    n = data.draw(st.integers(2, 30))
    ts, readings = START_MS, []
    for _ in range(n):
        ts += data.draw(st.integers(1, 400)) * 1000
        readings.append(Reading(DEVICE, ts, power_w=data.draw(st.floats(0, 9000, allow_nan=False, width=32))))
    messages = messages_of(readings, [1] * n)
    reference, store = run(tz, [messages])
    assert_children_sum_to_parents(store, tz)
    scrambled, store = run(tz, delivery(data.draw, messages), shape)
    assert scrambled == reference
