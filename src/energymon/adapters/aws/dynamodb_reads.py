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

# Minute items read before a batch's own (the batch's context; at 1 Hz each holds up to 60 readings) and the
# widest batch, in minutes, read that way rather than as a range.
_CONTEXT_ITEMS = 3
_PREFETCH_MAX_SPAN = 60


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

    def _device(self, work: Work) -> Item | None:
        """The device item, read once per unit of work (strongly: the batch's writes are computed from it)."""
        if not work.device_read:
            work.device = self._get_device(work.device_id)
            work.device_read = True
        return work.device

    def _prefetch(self, work: Work, first_ms: int, last_ms: int) -> None:
        """The batch's minutes and the few minute items before them, in one Query read newest first.

        A batch's context (the reading before it, a counter's warm-up history) lies in the minute items just
        before it: reading them with the batch's own minutes costs one Query of about a read unit, where a
        Query per direction and purpose costs one unit each. A batch that spans more than an hour, or whose
        minutes are known already, is loaded as a range.
        """
        first, last = floor_minute(first_ms), floor_minute(last_ms)
        span = (last - first) // MINUTE_MS + 1
        if span > _PREFETCH_MAX_SPAN or all(k in work.loaded or work.known_empty(k)
                                             for k in range(first, last + MINUTE_MS, MINUTE_MS)):
            self._load(work, first, last + MINUTE_MS)
            return
        limit = span + _CONTEXT_ITEMS
        items = []
        for item in self._query(device_pk(work.device_id), "M#", minute_sk(last), forward=False, limit=limit):
            items.append(item)
            if len(items) == limit:
                break
        lowest = first
        for item in items:
            minute = Minute.from_item(work.device_id, item)
            work.minutes.setdefault(minute.minute_ms, minute)
            lowest = min(lowest, minute.minute_ms)
        work.loaded.update(range(lowest, last + MINUTE_MS, MINUTE_MS))
        if len(items) < limit:  # the Query ran out: nothing older exists
            work.none_before = lowest if work.none_before is None else min(work.none_before, lowest)

    def _load(self, work: Work, lo_ms: int, hi_ms: int) -> None:
        """Bring the minute items of [lo, hi) into ``work`` (what is already there wins: it may be newer)."""
        if hi_ms <= lo_ms:
            return
        missing = [k for k in range(floor_minute(lo_ms), hi_ms, MINUTE_MS)
                   if k not in work.loaded and not work.known_empty(k)]
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
        if found >= readings or beyond(cursor) or work.known_empty(cursor):
            return
        if forward:
            end = min(x for x in (bound, work.none_after) if x is not None) if (
                bound is not None or work.none_after is not None) else None
            lo, hi = minute_sk(cursor), (minute_sk(end) if end is not None else "M#~")
        else:
            end = max(x for x in (bound, work.none_before) if x is not None) if (
                bound is not None or work.none_before is not None) else None
            lo, hi = (minute_sk(end) if end is not None else "M#"), minute_sk(cursor)
        last = None
        exhausted = True
        for item in self._query(device_pk(work.device_id), lo, hi, forward=forward, limit=60):
            minute = Minute.from_item(work.device_id, item)
            last = minute.minute_ms
            found += count(work.minutes.setdefault(last, minute))
            if found >= readings:
                exhausted = False
                break
        if exhausted and end is not None:
            last = end
        elif exhausted:  # the Query ran to the end of the device's minutes: nothing further this way
            edge = last if last is not None else cursor - step
            if forward:
                work.none_after = edge
            else:
                work.none_before = edge
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
