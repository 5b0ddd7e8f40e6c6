"""DynamoDB write units per reading: the packed device-minute design vs one item per reading.

Run: ``python -m benchmarks.bench_dynamodb_wcu [minutes]``. One simulated apartment at 1 Hz, delivered
in 10 s batches (the event source mapping's window) through the real Processor into DynamoDBStore on an
in-process moto. Write units are computed from item sizes by DynamoDB's rules (1 per started KB of the
larger of the before/after item; transactions double) and cross-checked with the ConsumedCapacity moto
returns (ReturnConsumedCapacity=TOTAL; moto reports 1 unit per item written whatever its size).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import boto3
from moto import mock_aws

from energymon.adapters.aws._dynamodb import item_size, write_units
from energymon.adapters.aws.dynamodb_store import DynamoDBStore
from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.domain.reading import encode_message
from energymon.domain.simulation import Apartment
from energymon.ports import StreamRecord
from energymon.processing.processor import Processor, ZoneResolver

BATCH_S = 10


def _table(client: object, name: str) -> None:
    client.create_table(  # type: ignore[attr-defined]
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def main(minutes: int = 30) -> dict[str, float]:
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    # Yesterday evening (busy appliances), UTC: the processor refuses readings weeks older than their arrival.
    t0 = (int(time.time()) // 86_400 - 1) * 86_400_000 + 18 * 3_600_000
    readings = list(Apartment("apt-12", 42, "Europe/Berlin").samples(t0, minutes * 60))
    with mock_aws(), tempfile.TemporaryDirectory() as tmp:
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        _table(ddb, "design")
        _table(ddb, "baseline")
        store = DynamoDBStore("design", client=ddb)
        processor = Processor(store, FolderArchive(Path(tmp) / "a"), SqliteDeadLetters(Path(tmp) / "dl.db"),
                              PrometheusMetrics(), ZoneResolver("Europe/Berlin"))
        for n, i in enumerate(range(0, len(readings), BATCH_S)):
            data = encode_message("apt-12", n, readings[i : i + BATCH_S])
            record = StreamRecord("shardId-000000000000", str(n + 1), "apt-12", data, 0.0)
            assert processor.handle(kinesis_event([record], "arn"))["batchItemFailures"] == []
        minute_sizes = [item_size(item) for item in ddb.scan(TableName="design")["Items"]
                        if item["sk"]["S"].startswith("M#")]
        # Baseline: one item per reading (pk device, sk timestamp, the reading's fields), BatchWriteItem.
        baseline_units = 0
        baseline_consumed = 0.0
        for i in range(0, len(readings), 25):
            requests = []
            for r in readings[i : i + 25]:
                item = {"pk": {"S": "D#apt-12"}, "sk": {"S": f"R#{r.ts_ms:013d}"},
                        "power_w": {"N": str(r.power_w)}, "energy_wh": {"N": str(r.energy_wh)}}
                baseline_units += write_units(None, item)
                requests.append({"PutRequest": {"Item": item}})
            response = ddb.batch_write_item(RequestItems={"baseline": requests}, ReturnConsumedCapacity="TOTAL")
            baseline_consumed += sum(c.get("CapacityUnits", 0) for c in response.get("ConsumedCapacity", []))
    n = len(readings)
    figures = {
        "readings": n,
        "design_wcu_per_reading": store.estimated_write_units / n,
        "design_consumed_reported_per_reading": store.consumed_write_units / n,
        "baseline_wcu_per_reading": baseline_units / n,
        "baseline_consumed_reported_per_reading": baseline_consumed / n,
        "minute_item_bytes_max": max(minute_sizes),
        "minute_item_bytes_mean": sum(minute_sizes) / len(minute_sizes),
    }
    print(f"DynamoDB write units per reading, 1 Hz, {BATCH_S} s batches, {n} readings ({minutes} min)")
    print(f"  packed device-minute design : {figures['design_wcu_per_reading']:.3f} WCU/reading (item sizes)"
          f"; moto ConsumedCapacity {figures['design_consumed_reported_per_reading']:.3f}")
    print(f"  one item per reading        : {figures['baseline_wcu_per_reading']:.3f} WCU/reading (item sizes)"
          f"; moto ConsumedCapacity {figures['baseline_consumed_reported_per_reading']:.3f}")
    print(f"  minute item size            : mean {figures['minute_item_bytes_mean']:.0f} B, "
          f"max {figures['minute_item_bytes_max']} B")
    print(f"  target ≤ 0.25 WCU/reading   : {'met' if figures['design_wcu_per_reading'] <= 0.25 else 'MISSED'}")
    return figures


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
