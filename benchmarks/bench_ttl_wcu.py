"""DynamoDB write units per reading before and after raw-reading TTL, measured in the same run.

Run: ``python -m benchmarks.bench_ttl_wcu [minutes] [base-revision]``. Checks the base revision (default: the
commit before the TTL work) out into a temporary git worktree and runs the same probe with each tree's ``src``
in its own interpreter: one apartment at 1 Hz in 10 s batches through the real Processor into DynamoDBStore
(``raw_retention_days = 90``) on an in-process moto. Write units from item sizes by DynamoDB's rules (1 per
started KB of the larger of the before/after item, transactions double); hour items' sizes with them, since
they now carry the minute rollups that outlive the expiring minute items.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BASE = "fb4903e"  # the last commit before the TTL work

_PROBE = """
import json, os, sys, tempfile, time
from pathlib import Path
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing"); os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
import boto3, energymon
from moto import mock_aws
assert energymon.__file__.startswith({src!r}), energymon.__file__
from energymon.adapters.aws._dynamodb import item_size
from energymon.adapters.aws.dynamodb_store import DynamoDBStore
from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.kinesis_event import kinesis_event
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.domain.reading import encode_message
from energymon.domain.simulation import Apartment
from energymon.ports import StreamRecord
from energymon.processing.processor import Processor, ZoneResolver
t0 = (int(time.time()) // 86_400 - 1) * 86_400_000 + 18 * 3_600_000
readings = list(Apartment("apt-12", 42, "Europe/Berlin").samples(t0, {minutes} * 60))
with mock_aws(), tempfile.TemporaryDirectory() as tmp:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{{"AttributeName": "pk", "KeyType": "HASH"}}, {{"AttributeName": "sk", "KeyType": "RANGE"}}],
        AttributeDefinitions=[{{"AttributeName": "pk", "AttributeType": "S"}}, {{"AttributeName": "sk", "AttributeType": "S"}}])
    store = DynamoDBStore("t", client=ddb, raw_retention_days=90)
    processor = Processor(store, FolderArchive(Path(tmp) / "a"), SqliteDeadLetters(Path(tmp) / "dl.db"),
                          PrometheusMetrics(), ZoneResolver("Europe/Berlin"), clock=lambda: t0 / 1000 + {minutes} * 60)
    for n, i in enumerate(range(0, len(readings), 10)):
        record = StreamRecord("shardId-000000000000", str(n + 1), "apt-12",
                              encode_message("apt-12", n, readings[i:i + 10]), t0 / 1000 + i + 10)
        assert processor.handle(kinesis_event([record], "arn"))["batchItemFailures"] == []
    items = ddb.scan(TableName="t")["Items"]
    hours = [item_size(x) for x in items if x["sk"]["S"].startswith("H#")]
    minutes_ = [item_size(x) for x in items if x["sk"]["S"].startswith("M#")]
    print(json.dumps({{"wcu_per_reading": store.estimated_write_units / len(readings), "readings": len(readings),
                      "hour_item_bytes_max": max(hours), "minute_item_bytes_max": max(minutes_),
                      "expiring_minute_items": sum(1 for x in items if "expires_at" in x)}}))
"""


def _probe(src: Path, minutes: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", _PROBE.format(src=str(src), minutes=minutes)], env=env,
                         check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main(minutes: int = 180, base: str = DEFAULT_BASE) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), base], check=True,
                       capture_output=True)
        try:
            before = _probe(tree / "src", minutes)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=True,
                           capture_output=True)
    after = _probe(ROOT / "src", minutes)
    print(f"DynamoDB write units per reading, 1 Hz, 10 s batches, {after['readings']:.0f} readings, "
          f"raw_retention_days = 90 (same run)")
    for name, fig in (("before (" + base + ")", before), ("after (working tree)", after)):
        print(f"  {name:<24}: {fig['wcu_per_reading']:.4f} WCU/reading; hour item max {fig['hour_item_bytes_max']:.0f} B;"
              f" minute item max {fig['minute_item_bytes_max']:.0f} B; expiring minute items "
              f"{fig['expiring_minute_items']:.0f}")
    change = after["wcu_per_reading"] / before["wcu_per_reading"] - 1
    print(f"  change                  : {change:+.1%}")
    return {"before": before, "after": after}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 180, sys.argv[2] if len(sys.argv) > 2 else DEFAULT_BASE)
