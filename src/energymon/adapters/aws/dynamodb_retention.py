"""Keep what a late reading's recompute can still read from expiring: the AWS store's silence openers.

The handler gives every minute item with raw readings a TTL of ``raw_retention_days`` from its write
(dynamodb_items.py); rollups live on in the hour items. A device silent for longer than the retention would
then lose the readings that open its silence, and late data inside the silence — or the first readings after
it — would be recomputed without them: the silence's energy would be lost (never negative, never inflated,
but not what the local store gives). The local purge keeps them (``SqliteStore.purge_readings``); here a
scheduled pass does the same before the TTL can act: it asks what the recompute of the oldest reading the
processor still accepts would read — exactly the processor's own reach — and removes ``expires_at`` from those
minute items that would otherwise expire within ``margin_days``. For a device that never went quiet that reach
lies a few minutes before the oldest acceptable reading, far younger than anything expiring: nothing is
written. A pinned opener stays until the table is deleted (a few items per silence longer than the retention).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from energymon.adapters.aws.dynamodb_items import DEVICES, device_pk, minute_sk
from energymon.domain.energy import floor_minute
from energymon.domain.reading import MAX_READING_AGE_MS
from energymon.processing.processor import _COUNTER_REACH_MS, _WARM_UP

if TYPE_CHECKING:
    from energymon.adapters.aws.dynamodb_store import DynamoDBStore

__all__ = ["pin_openers"]

log = logging.getLogger(__name__)

_DAY_MS = 86_400_000


def pin_openers(store: DynamoDBStore, now_s: float, *, stream_retention_hours: float = 24.0,
                margin_days: float = 2.0) -> int:
    """Pin (remove the TTL of) every minute item a late reading's recompute can read and that could expire
    within ``margin_days``; returns how many items were pinned. Run it more often than every ``margin_days``."""
    if store.raw_retention_days is None:
        return 0
    now_ms = int(now_s * 1000)
    at_risk_ms = now_ms - int((store.raw_retention_days - margin_days) * _DAY_MS)
    oldest_late_ms = now_ms - MAX_READING_AGE_MS - int(stream_retention_hours * 3_600_000)
    pinned = 0
    for item in store._query(DEVICES, None, None):  # noqa: SLF001 - the store's own paged query
        device = item["sk"]["S"]
        for minute_ms in sorted(_reach(store, device, oldest_late_ms)):
            if minute_ms < at_risk_ms:
                pinned += _pin(store, device, minute_ms)
    return pinned


def _reach(store: DynamoDBStore, device: str, late_ms: int) -> set[int]:
    """The minutes of the readings below ``late_ms`` that ``Processor._recompute`` reads for a reading at it."""
    before = store.readings_before(device, late_ms, 1)
    if not before:
        return set()
    edges = [late_ms, before[0].ts_ms]
    if before[0].energy_wh is None:
        edges += [r.ts_ms for r in store.counter_readings(device, late_ms, 1, forward=False,
                                                          within_ms=_COUNTER_REACH_MS)]
    span_lo = floor_minute(min(edges))
    readings = store.readings_around(device, span_lo, late_ms)  # the neighbour before span_lo comes with it
    readings = [r for r in readings if r.ts_ms < late_ms]
    if not readings:
        return set()
    history = store.counter_readings(device, readings[0].ts_ms, _WARM_UP, forward=False,
                                     within_ms=_COUNTER_REACH_MS)
    return {floor_minute(r.ts_ms) for r in (*history, *readings)}


def _pin(store: DynamoDBStore, device: str, minute_ms: int) -> int:
    client = store.client
    try:
        response = client.update_item(
            TableName=store.table_name, Key={"pk": {"S": device_pk(device)}, "sk": {"S": minute_sk(minute_ms)}},
            UpdateExpression="REMOVE expires_at", ConditionExpression="attribute_exists(expires_at)",
            ReturnConsumedCapacity="TOTAL",
        )
    except client.exceptions.ConditionalCheckFailedException:
        return 0  # already pinned, or not there any more
    store.consumed_write_units += response.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)
    log.info("pinned silence opener %s minute %s (a late reading's recompute may read it)", device, minute_ms)
    return 1
