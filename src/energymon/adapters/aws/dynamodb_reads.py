"""The DynamoDB store's reads: paged queries, and loading minute items into a unit of work.

Everything the processor reads back goes through a ``Work``: a minute item is read at most once per batch,
and what the batch has changed in memory wins over what the table still holds.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from energymon.adapters.aws.dynamodb_items import (
    DEVICES,
    Item,
    Minute,
    Sums,
    Work,
    device_pk,
    hour_sk,
    minute_sk,
    num,
    raw_sk,
)
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
        """Bring the minute items and raw parts of [lo, hi) into ``work`` (what is already there wins: it may
        be newer)."""
        if hi_ms <= lo_ms:
            return
        keys = range(floor_minute(lo_ms), hi_ms, MINUTE_MS)
        missing = [k for k in keys if k not in work.loaded]
        if not missing:
            return
        pk = device_pk(work.device_id)
        for item in self._query(pk, minute_sk(missing[0]), minute_sk(missing[-1])):
            self._merge(work, item, raw=False)
        raw_missing = [k for k in missing if k not in work.loaded_raw]
        if raw_missing:
            for item in self._query(pk, raw_sk(raw_missing[0]), raw_sk(raw_missing[-1])):
                self._merge(work, item, raw=True)
        work.loaded.update(missing)
        work.loaded_raw.update(missing)

    @staticmethod
    def _merge(work: Work, item: Item, *, raw: bool) -> None:
        key = int(item["sk"]["S"][2:])
        if key in (work.loaded_raw if raw else work.loaded):
            return  # already known, and maybe changed in memory
        minute = work.minutes.get(key)
        if minute is None:
            work.minutes[key] = Minute.from_item(work.device_id, item)
        else:
            minute.absorb(work.device_id, item)

    def _scan(
        self, work: Work, minute_ms: int, *, forward: bool, readings: int, counters: bool = False,
        bound_ms: int | None = None,
    ) -> None:
        """Load raw parts from ``minute_ms`` (excluded) on, one way, until ``readings`` readings (with a
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
        while cursor in work.loaded_raw and found < readings and not beyond(cursor):
            found += count(work.minutes.get(cursor))
            cursor += step
        if found >= readings or beyond(cursor):
            return
        if forward:
            lo, hi = raw_sk(cursor), (raw_sk(bound) if bound is not None else "R#~")
        else:
            lo, hi = (raw_sk(bound) if bound is not None else "R#"), raw_sk(cursor)
        last = None
        exhausted = True
        for item in self._query(device_pk(work.device_id), lo, hi, forward=forward, limit=60):
            key = int(item["sk"]["S"][2:])
            self._merge(work, item, raw=True)
            work.loaded_raw.add(key)
            last = key
            found += count(work.minutes.get(key))
            if found >= readings:
                exhausted = False
                break
        if exhausted and bound is not None:
            last = bound
        if last is not None:
            work.loaded_raw.update(range(cursor, last + step, step))

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
