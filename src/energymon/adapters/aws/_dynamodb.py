"""DynamoDB plumbing shared by the store and the stream checkpoints: batched writes, item sizes."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from energymon.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import WriteRequestUnionTypeDef

__all__ = ["BATCH_WRITE_MAX", "batch_write", "item_size", "write_units"]

BATCH_WRITE_MAX = 25
Item = dict[str, Any]


class _Unprocessed(StoreError):
    pass


def batch_write(
    client: DynamoDBClient, table: str, requests: Sequence[WriteRequestUnionTypeDef], *, attempts: int = 8
) -> float:
    """BatchWriteItem in chunks of 25, retrying ``UnprocessedItems`` with jittered exponential backoff.

    Returns the write units DynamoDB reports as consumed (0 where the endpoint reports none).
    """
    consumed = 0.0
    for start in range(0, len(requests), BATCH_WRITE_MAX):
        pending: list[Any] = list(requests[start : start + BATCH_WRITE_MAX])
        try:
            for attempt in Retrying(
                stop=stop_after_attempt(attempts),
                wait=wait_random_exponential(multiplier=0.05, max=2.0),
                retry=retry_if_exception_type(_Unprocessed),
                reraise=True,
            ):
                with attempt:
                    response = client.batch_write_item(RequestItems={table: pending}, ReturnConsumedCapacity="TOTAL")
                    consumed += sum(c.get("CapacityUnits", 0.0) for c in response.get("ConsumedCapacity", []))
                    pending = list(response.get("UnprocessedItems", {}).get(table, []))
                    if pending:
                        raise _Unprocessed(f"{len(pending)} writes unprocessed")
        except _Unprocessed:
            raise StoreError(
                f"DynamoDB left {len(pending)} writes unprocessed after {attempts} attempts (throttled)"
            ) from None
    return consumed


def _number_size(value: str) -> int:
    digits = value.lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
    if "e" in value.lower():
        digits = str(Decimal(value).normalize()).lstrip("-").replace(".", "").replace("E", "")[:38]
    return math.ceil(len(digits) / 2) + 1


def _value_size(value: Mapping[str, Any]) -> int:  # noqa: C901, PLR0911 - one branch per DynamoDB type
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        return _number_size(v)
    if kind == "B":
        return len(v)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(x) + 1 for k, x in v.items())
    if kind == "L":
        return 3 + sum(_value_size(x) + 1 for x in v)
    if kind == "SS":
        return sum(len(x.encode()) for x in v)
    if kind == "NS":
        return sum(_number_size(x) for x in v)
    if kind == "BS":
        return sum(len(x) for x in v)
    raise ValueError(f"unknown attribute type {kind!r}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """An item's size by DynamoDB's rules: attribute names plus values (numbers: 1 byte per 2 digits + 1)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def write_units(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> int:
    """Write units a put/update/delete costs: 1 per started KB of the larger of the before/after item."""
    size = max(item_size(before) if before else 0, item_size(after) if after else 0)
    return max(1, math.ceil(size / 1024))
