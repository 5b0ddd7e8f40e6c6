"""The DynamoDB store's reads: paged queries, and loading minute items into a unit of work.

Everything the processor reads back goes through a ``Work``: a minute item is read at most once per batch,
and what the batch has changed in memory wins over what the table still holds.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from energymon.adapters.aws.dynamodb_items import DEVICES, Item, Minute, Sums, Work, device_pk, hour_sk, minute_sk, num
from energymon.domain.energy import MINUTE_MS, floor_minute

if TYPE_CHECKING:
    from collections.abc import Iterable

    from mypy_boto3_dynamodb import DynamoDBClient

    from energymon.domain.reading import Reading

__all__ = ["DynamoDBTable"]


class DynamoDBTable:
    """One DynamoDB table and an injected client: the read plumbing the store is built on."""

    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self.table_name = table_name
        self.client = client
        self.consumed_write_units = 0.0  # as reported by DynamoDB (ReturnConsumedCapacity=TOTAL)
        self.estimated_write_units = 0  # from item sizes by DynamoDB's pricing rules (see _dynamodb.py)


    # ---- reading ------------------------------------------------------------------------------------

    def _query(self, pk: str, lo: str | None, hi: str | None, *, forward: bool = True,
               limit: int | None = None) -> Iterable[Item]:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "ConsistentRead": True,
            "ScanIndexForward": forward,
            "ExpressionAttributeValues": {":pk": {"S": pk}},
        }
        if lo is not None and hi is not None:
            kwargs["KeyConditionExpression"] = "pk = :pk AND sk BETWEEN :lo AND :hi"
            kwargs["ExpressionAttributeValues"].update({":lo": {"S": lo}, ":hi": {"S": hi}})
        else:
            kwargs["KeyConditionExpression"] = "pk = :pk"
        if limit is not None:
            kwargs["Limit"] = limit
        while True:
            response = self.client.query(**kwargs)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _load(self, work: Work, lo_ms: int, hi_ms: int) -> None:
        """Bring the minute items of [lo, hi) into ``work`` (what is already there wins: it may be newer)."""
        if hi_ms <= lo_ms:
            return
        missing = [k for k in range(floor_minute(lo_ms), hi_ms, MINUTE_MS) if k not in work.loaded]
        if not missing:
            return
        for item in self._query(device_pk(work.device_id), minute_sk(missing[0]), minute_sk(missing[-1])):
            minute = Minute.from_item(work.device_id, item)
            work.minutes.setdefault(minute.minute_ms, minute)
        work.loaded.update(missing)

    def _scan(
        self, work: Work, minute_ms: int, *, forward: bool, readings: int, counters: bool = False,
        bound_ms: int | None = None,
    ) -> None:
        """Load minute items from ``minute_ms`` (excluded) on, one way, until ``readings`` readings (with a
        counter, when ``counters``) are known or ``bound_ms`` is passed."""
        step = MINUTE_MS if forward else -MINUTE_MS
        bound = floor_minute(bound_ms) if bound_ms is not None else None

        def count(minute: Minute | None) -> int:
            if minute is None:
                return 0
            if counters:
                return sum(1 for r in minute.readings.values() if r.energy_wh is not None)
            return len(minute.readings)

        def beyond(key: int) -> bool:
            return bound is not None and (key > bound if forward else key < bound)

        found = 0
        cursor = minute_ms + step
        while cursor in work.loaded and found < readings and not beyond(cursor):
            found += count(work.minutes.get(cursor))
            cursor += step
        if found >= readings or beyond(cursor):
            return
        if forward:
            lo, hi = minute_sk(cursor), (minute_sk(bound) if bound is not None else "M#~")
        else:
            lo, hi = (minute_sk(bound) if bound is not None else "M#"), minute_sk(cursor)
        last = None
        exhausted = True
        for item in self._query(device_pk(work.device_id), lo, hi, forward=forward, limit=60):
            minute = Minute.from_item(work.device_id, item)
            last = minute.minute_ms
            found += count(work.minutes.setdefault(last, minute))
            if found >= readings:
                exhausted = False
                break
        if exhausted and bound is not None:
            last = bound
        if last is not None:
            work.loaded.update(range(cursor, last + step, step))

    def _nearest(self, work: Work, minute_ms: int, *, forward: bool) -> Reading | None:
        """The nearest reading strictly outside minute ``minute_ms`` in one direction."""
        self._scan(work, minute_ms, forward=forward, readings=1)
        keys = [k for k, m in work.minutes.items() if m.readings and (k > minute_ms if forward else k < minute_ms)]
        if not keys:
            return None
        best = work.minutes[min(keys) if forward else max(keys)]
        return best.readings[min(best.readings) if forward else max(best.readings)]

    def _hours(self, device_id: str, start_ms: int, end_ms: int) -> list[tuple[int, Sums]]:
        """Closed hour items in [start, end) plus the device's open hour when it falls inside."""
        out = {}
        for item in self._query(device_pk(device_id), hour_sk(max(start_ms, 0)), hour_sk(max(end_ms - 1, 0))):
            out[int(item["sk"]["S"][2:])] = Sums.from_item(item)
        device = self._get_device(device_id)
        if device is not None and "oh" in device:
            open_hour = num(device, "oh")
            if start_ms <= open_hour < end_ms:
                out[open_hour] = Sums.from_item(device)
        return sorted(out.items())

    def _get_device(self, device_id: str) -> Item | None:
        response = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": DEVICES}, "sk": {"S": device_id}}, ConsistentRead=True
        )
        item: Item | None = response.get("Item")
        return item

    def _get_hours(self, keys: list[Item]) -> dict[int, Item]:
        out: dict[int, Item] = {}
        for start in range(0, len(keys), 100):
            request: Any = {self.table_name: {"Keys": keys[start : start + 100], "ConsistentRead": True}}
            while request:
                response = self.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    out[int(item["sk"]["S"][2:])] = item
                request = response.get("UnprocessedKeys") or None
                if request:
                    time.sleep(0.05)
        return out
