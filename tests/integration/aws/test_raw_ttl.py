"""GIVEN the DynamoDB store on a moto server, WHEN the processor writes readings, THEN every raw part carries the
TTL attribute `expires_at` = write time + raw_retention_days, no rollup item (minute, hour, device) ever gets
one, and once DynamoDB's TTL has deleted the raw parts every rollup still reads the same."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from energymon.adapters.aws.dynamodb_store import DynamoDBStore
from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.domain.reading import Reading, encode_message, parse_ts
from energymon.ports import StreamRecord
from energymon.processing import Processor, ZoneResolver

pytestmark = pytest.mark.integration

DEVICE = "apt-3"
T0 = parse_ts("2026-06-01T21:00:00Z")
WRITTEN_AT_S = T0 / 1000 + 7200.0


def _deliver(processor: Processor, readings: list[Reading]) -> None:
    for seq, start in enumerate(range(0, len(readings), 30), start=1):
        chunk = readings[start:start + 30]
        body = orjson.loads(encode_message(DEVICE, seq, chunk))
        body["topic_device_id"] = DEVICE
        record = StreamRecord("shardId-000000000000", str(seq), DEVICE, orjson.dumps(body), chunk[-1].ts_ms / 1000)
        assert processor.handle(kinesis_event([record], "arn:aws:kinesis:us-east-1:1:stream/s")) == {
            "batchItemFailures": []}


def _items(ddb: Any, table: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _rollups(store: DynamoDBStore) -> dict[str, list[tuple[str, float]]]:
    return {res: [(p.start, p.import_kwh) for p in store.periods(DEVICE, res, 0, 2**42, "Europe/Berlin")]
            for res in ("minute", "hour", "day", "month")}


@pytest.mark.parametrize("retention_days", [90.0, 44.5])
def test_raw_parts_expire_and_rollups_never_do(client: Any, new_table: Any, tmp_path: Any,
                                               retention_days: float) -> None:
    ddb = client("dynamodb")
    table = new_table()
    store = DynamoDBStore(table, client=ddb, raw_retention_days=retention_days, clock=lambda: WRITTEN_AT_S)
    processor = Processor(store, FolderArchive(tmp_path / "a"), SqliteDeadLetters(tmp_path / "dl.db"),
                          PrometheusMetrics(), ZoneResolver("Europe/Berlin"), clock=lambda: WRITTEN_AT_S)
    # three hours across local midnight, a reading every 20 s
    _deliver(processor, [Reading(DEVICE, T0 + i * 20_000, 500.0, 1000.0 + i * 2.8) for i in range(540)])

    items = _items(ddb, table)
    raw = [i for i in items if i["sk"]["S"].startswith("R#")]
    rollups = [i for i in items if not i["sk"]["S"].startswith("R#")]
    assert len(raw) == 180  # one raw part per minute with readings
    assert {i["expires_at"]["N"] for i in raw} == {str(int(WRITTEN_AT_S + retention_days * 86_400))}
    assert all("r" in i for i in raw)
    kinds = {i["sk"]["S"][:2] if i["pk"]["S"] != "DEVICES" else "DEVICES" for i in rollups}
    assert kinds == {"M#", "H#", "DEVICES"}
    assert not [i for i in rollups if "expires_at" in i or "r" in i]
    assert ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]["AttributeName"] == "expires_at"

    before = _rollups(store)
    assert sum(kwh for _, kwh in before["day"]) == pytest.approx(539 * 2.8 / 1000, abs=1e-6)
    # WHEN the TTL deletes the raw parts (moto stores the attribute but does not expire items: do what AWS does)
    for item in raw:
        ddb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
    # THEN every rollup reads the same
    assert _rollups(DynamoDBStore(table, client=ddb)) == before


def test_the_handler_sets_the_ttl_by_default(client: Any, new_table: Any) -> None:
    ddb = client("dynamodb")
    table = new_table()
    store = DynamoDBStore(table, client=ddb, clock=lambda: WRITTEN_AT_S)  # as lambda_handler.build makes it
    store.add_readings(DEVICE, [Reading(DEVICE, T0, 100.0, 5.0)])
    (raw,) = [i for i in _items(ddb, table) if i["sk"]["S"].startswith("R#")]
    assert raw["expires_at"]["N"] == str(int(WRITTEN_AT_S + 90 * 86_400))
