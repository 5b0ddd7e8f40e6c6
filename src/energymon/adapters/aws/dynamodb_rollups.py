"""The DynamoDB store's writes: a unit of work's minute items, then the hour rollups and the device item above them.

Hour items are written once, when their hour closes (or when late data changes a closed hour); the device item
holds the open (latest) hour. Every derived value is recomputed from the minute items and compared with what is
stored, so a replay or a crash between two writes heals itself. Changes to the closed-hour bookkeeping go in one
TransactWriteItems with an optimistic version check on the device item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from energymon.adapters.aws._dynamodb import batch_write, item_size, write_units
from energymon.adapters.aws.dynamodb_items import (
    DEVICES,
    Item,
    Sums,
    Work,
    device_pk,
    hour_rows,
    hour_sk,
    n,
    num,
    same,
    version_condition,
)
from energymon.adapters.aws.dynamodb_reads import DynamoDBTable
from energymon.domain.timebuckets import local_keys, zone
from energymon.errors import StoreError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from mypy_boto3_dynamodb import DynamoDBClient

    from energymon.domain.reading import Reading

__all__ = ["RollupWriter"]

_HOUR_MS = 3_600_000
_TRANSACT_MAX = 100
_MAX_ITEM = 400 * 1024


@dataclass
class _Closing:
    """The closed-hour writes of one refresh, each with its change to the closed-hours reading count."""

    writes: list[tuple[Any, int]] = field(default_factory=list)
    base: int = 0  # the device's count of readings in closed hours, with the changes of skipped hours

    @property
    def count(self) -> int:
        return self.base + sum(delta for _, delta in self.writes)


class RollupWriter(DynamoDBTable):
    """Writes a unit of work: minute items first (the truth), then the hours and the device item."""

    def __init__(
        self, table_name: str, client: DynamoDBClient, *, raw_retention_days: float | None, clock: Any
    ) -> None:
        super().__init__(table_name, client)
        self.raw_retention_days = raw_retention_days
        self.clock = clock

    def _expires_at(self) -> int | None:
        if self.raw_retention_days is None:
            return None
        return int(self.clock() + self.raw_retention_days * 86_400)

    def _flush(self, work: Work) -> None:
        device_item = self._device(work)
        tz_name = work.tz_name or (device_item or {}).get("z", {}).get("S") or "UTC"
        hours = self._assign_hours(work, zone(tz_name))
        open_hour = _open_hour_change(work, hours, tz_name, device_item)  # before the writes change ``stored``
        self._write_minutes(work)  # 1. the minute items: the truth everything else is derived from.
        # 2. the hours above them and the device item.
        self._refresh_hours(work, hours, tz_name, device_item, open_hour)

    @staticmethod
    def _assign_hours(work: Work, tz: ZoneInfo) -> set[int]:
        """Give every touched minute its local hour; return the hours to refresh (old and new)."""
        hours: set[int] = set()
        for key in sorted(work.touched):
            minute = work.minutes.get(key)
            new_hour = local_keys(key, tz).hour_ms
            if minute is None:
                hours.add(new_hour)
                continue
            if minute.hour_ms is not None:
                hours.add(minute.hour_ms)
            if minute.readings or minute.energy is not None:
                minute.hour_ms = new_hour
                hours.add(new_hour)
        return hours

    def _write_minutes(self, work: Work) -> None:
        expires_at = self._expires_at()
        requests: list[Any] = []
        for key in sorted(work.touched):
            minute = work.minutes.get(key)
            if minute is None:
                continue
            if minute.readings or minute.energy is not None:
                item = minute.item(work.device_id, expires_at)
                if minute.stored is not None and same(minute.stored, item):
                    continue
                if item_size(item) > _MAX_ITEM:
                    raise StoreError(f"minute item {work.device_id} {key} would exceed DynamoDB's 400 KB item limit")
                requests.append({"PutRequest": {"Item": item}})
                self.estimated_write_units += write_units(minute.stored, item)
                minute.stored = item
                minute.was = (len(minute.readings), minute.energy)
            elif minute.stored is not None:
                requests.append({"DeleteRequest": {"Key": {"pk": minute.stored["pk"], "sk": minute.stored["sk"]}}})
                self.estimated_write_units += write_units(minute.stored, None)
                minute.stored = None
        if requests:
            self.consumed_write_units += batch_write(self.client, self.table_name, requests)

    def _refresh_hours(self, work: Work, hours: set[int], tz_name: str, device: Item | None,
                       open_hour: Sums | None = None) -> None:
        if open_hour is not None and device is not None:
            sums, last = {num(device, "oh"): open_hour}, _newest(work)
        else:
            sums, last = self._hour_sums(work, hours, zone(tz_name))
        old_open = num(device, "oh") if device else None
        nonempty = [h for h, s in sums.items() if not s.empty]
        new_open = max([*nonempty, *([old_open] if old_open is not None else [])], default=None)
        if new_open is None:
            return
        open_sums = sums.get(new_open) or (Sums.from_item(device) if device and new_open == old_open else Sums())
        closing = {h: s for h, s in sums.items() if h < new_open}
        if old_open is not None and old_open < new_open and old_open not in closing and device is not None:
            closing[old_open] = self._closing_open_hour(work, old_open, zone(tz_name), device)
        plan = self._closing_writes(work, closing, old_open, num(device, "b", 0) if device else 0)
        new_device: Item = {"pk": {"S": DEVICES}, "sk": {"S": work.device_id}, "oh": n(new_open),
                            **open_sums.attributes(), "b": n(plan.count), "z": {"S": tz_name}}
        _set_last_reading(new_device, last, device)
        if not plan.writes and device is not None and same(device, new_device):
            return
        self._commit(work.device_id, device, new_device, plan)

    def _hour_sums(self, work: Work, hours: set[int], tz: ZoneInfo) -> tuple[dict[int, Sums], Reading | None]:
        """Each hour's sums from its minute items, and the device's newest reading among those loaded."""
        if hours:
            self._load(work, min(hours) - _HOUR_MS, max(hours) + 2 * _HOUR_MS)
        sums = {h: Sums(day=local_keys(h, tz).day) for h in hours}
        for minute in work.minutes.values():
            if minute.hour_ms in sums:
                sums[minute.hour_ms].add(minute)
        return sums, _newest(work)

    def _closing_open_hour(self, work: Work, hour_ms: int, tz: ZoneInfo, device: Item) -> Sums:
        """The device's open hour as it closes, summed from its minute items so that its hour item keeps them;
        the device item's sums when they have all expired (a silence longer than the retention)."""
        self._load(work, hour_ms, hour_ms + 2 * _HOUR_MS)
        sums = Sums(day=local_keys(hour_ms, tz).day)
        for minute in work.minutes.values():
            if minute.hour_ms == hour_ms:
                sums.add(minute)
        # Fewer readings than the device item counted: minute items TTL deleted. More: a crash between a batch's
        # minute writes and its device write that no redelivery has healed yet; the minutes are the truth.
        return sums if sums.readings >= num(device, "c", 0) else Sums.from_item(device)

    def _closing_writes(self, work: Work, closing: dict[int, Sums], old_open: int | None, base: int) -> _Closing:
        """The puts and deletes that bring the closed hour items in line with ``closing``."""
        plan = _Closing(base=base)
        if not closing:
            return plan
        device_id = work.device_id
        stored = self._get_hours([{"pk": {"S": device_pk(device_id)}, "sk": {"S": hour_sk(h)}}
                                  for h in closing if h != old_open])
        for h, s in sorted(closing.items()):
            old = stored.get(h)
            if old is not None:
                _add_expired(s, old, work)
            old_count = Sums.from_item(old).readings if old is not None else 0
            new_item = {"pk": {"S": device_pk(device_id)}, "sk": {"S": hour_sk(h)}, **s.attributes(h)}
            if old is not None and same(old, new_item) and h != old_open:
                continue
            delta = s.readings - old_count
            if not s.empty:
                plan.writes.append(({"Put": {"TableName": self.table_name, "Item": new_item}}, delta))
                self.estimated_write_units += 2 * write_units(old, new_item)
            elif old is not None:
                plan.writes.append(({"Delete": {"TableName": self.table_name,
                                                "Key": {"pk": new_item["pk"], "sk": new_item["sk"]}}}, delta))
                self.estimated_write_units += 2 * write_units(old, None)
            else:
                plan.base += delta
        return plan

    def _commit(self, device_id: str, device: Item | None, new_device: Item, plan: _Closing) -> None:
        version = num(device, "v", 0) if device else 0
        try:
            if not plan.writes:
                new_device["v"] = n(version + 1)
                self.estimated_write_units += write_units(device, new_device)
                response = self.client.put_item(TableName=self.table_name, Item=new_device,
                                                ReturnConsumedCapacity="TOTAL", **version_condition(device, version))
                self.consumed_write_units += response.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)
                return
            self._commit_chunks(device, version, new_device, plan)
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise StoreError(f"device {device_id} was changed by another writer; retry the batch") from exc
        except self.client.exceptions.TransactionCanceledException as exc:
            raise StoreError(f"device {device_id}: hour rollup transaction cancelled ({exc}); retry") from exc

    def _commit_chunks(self, device: Item | None, version: int, new_device: Item, plan: _Closing) -> None:
        """A long silence closes more hours than one transaction holds: commit them in chunks, each with the
        device item carrying that chunk's share of the count, so a crash between chunks loses nothing (a retry
        finds the committed hours unchanged and skips them, their counts already in the device)."""
        base = plan.base
        for start in range(0, len(plan.writes), _TRANSACT_MAX - 1):
            chunk = plan.writes[start:start + _TRANSACT_MAX - 1]
            base += sum(delta for _, delta in chunk)
            step = {**new_device, "b": n(base), "v": n(version + 1)}
            items = [write for write, _ in chunk]
            guarded = {"TableName": self.table_name, "Item": step, **version_condition(device, version)}
            items.append({"Put": guarded})
            self.estimated_write_units += 2 * write_units(device, step)  # transactions cost double
            tx = self.client.transact_write_items(TransactItems=items, ReturnConsumedCapacity="TOTAL")
            self.consumed_write_units += sum(c.get("CapacityUnits", 0.0) for c in tx.get("ConsumedCapacity", []))
            device, version = step, version + 1


def _newest(work: Work) -> Reading | None:
    """The device's newest reading among the minutes the unit of work holds."""
    last: Reading | None = None
    for minute in work.minutes.values():
        if minute.readings:
            newest = minute.readings[max(minute.readings)]
            if last is None or newest.ts_ms > last.ts_ms:
                last = newest
    return last


def _open_hour_change(work: Work, hours: set[int], tz_name: str, device: Item | None) -> Sums | None:
    """The device's open hour after this batch, from the device item's sums and the change of the minutes the
    batch touched alone: no read of the hour's other minutes (they are the bulk of a batch's read units).

    Only where that is exact: every touched minute in the open hour before and after, its item known, the
    zone unchanged, no minute's peak lowered (a maximum cannot be taken back), and every reading of the batch
    new. A redelivered or replayed batch (a crash between the minute and the device write, a replay from the
    archive) sums the hour from its minute items instead, which is what heals the device item; so does the
    hour's close (``_closing_open_hour``). None: sum the hour from its minute items.
    """
    if device is None or work.replayed or "oh" not in device or device.get("z", {}).get("S") != tz_name:
        return None
    open_hour = num(device, "oh")
    if hours != {open_hour}:
        return None
    sums = Sums.from_item(device)
    for key in work.touched:
        if key not in work.loaded and not work.known_empty(key):
            return None
        minute = work.minutes.get(key)
        if minute is None:
            continue
        old_count, old = minute.was if minute.stored is not None else (0, None)
        new = minute.energy
        old_peak = old.peak_power_w if old is not None else None
        new_peak = new.peak_power_w if new is not None else None
        if old_peak is not None and (new_peak is None or new_peak < old_peak):
            return None
        sums.readings += len(minute.readings) - old_count
        for sign, m in ((-1, old), (1, new)):
            if m is not None:
                sums.import_mwh += sign * m.import_mwh
                sums.export_mwh += sign * m.export_mwh
                sums.samples += sign * m.samples
                sums.gap_minutes += sign * m.gap
        if new_peak is not None and (sums.peak_w is None or new_peak > sums.peak_w):
            sums.peak_w = new_peak
    return sums


def _add_expired(sums: Sums, stored: Item, work: Work) -> None:
    """Add to a closed hour's sums the minutes its stored item remembers whose minute items have expired.

    A minute the unit of work touched is known for certain (absent: it has no readings and no energy any more);
    one it loaded is the item itself; any other minute of the stored hour is an item TTL deleted.
    """
    for row in hour_rows(stored):
        key = row[0]
        if key not in work.touched and key not in work.minutes:
            sums.add_row(row)


def _set_last_reading(new_device: Item, last: Reading | None, device: Item | None) -> None:
    """The device's last reading: the newest seen, never one older than what the item already says."""
    previous_last = num(device, "lt") if device else None
    if last is not None and (previous_last is None or last.ts_ms >= previous_last):
        new_device["lt"] = n(last.ts_ms)
        for name, value in (("lp", last.power_w), ("le", last.energy_wh)):
            if value is not None:
                new_device[name] = n(value)
    elif device is not None:
        new_device.update({k: device[k] for k in ("lt", "lp", "le") if k in device})


