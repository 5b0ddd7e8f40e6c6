"""The DynamoDB store: one table, designed so that a reading costs well under a quarter of a write unit.

Single-table layout (``pk``/``sk`` strings, TTL attribute ``expires_at``)::

    pk = D#<device>  sk = M#<utc minute ms, 13 digits>   one device-minute: its raw readings packed in
                                                         ``r`` (see packing.py) and, once derived, its
                                                         energy ``i``/``o`` (mWh), peak ``p``, samples
                                                         ``n``, anomalies ``a``, local hour ``h``
    pk = D#<device>  sk = H#<local hour start ms>        a *closed* local hour: sums ``i o p n``, raw
                                                         reading count ``c``, local day ``d``
    pk = DEVICES     sk = <device>                       the device: its *open* (latest) hour's sums,
                                                         count of readings in closed hours ``b``, last
                                                         reading ``lt lp le``, zone ``z``, version ``v``
    pk = CHECKPOINT#<consumer>  sk = <shard id>          stream checkpoints (kinesis_stream.py)

Why: a 10 s batch at 1 Hz touches one minute item (two when it straddles a minute) and the device item,
both under 1 KB: about 2.2 write units per 10 readings. Hour items are written once, when their hour
closes (or when late data changes a closed hour), days and months are summed from hour items at query
time. Raw history lives in the S3 archive; ``raw_retention_days`` lets minute items expire.

Every derived value (hour sums, counts, the last reading) is recomputed from the minute items — the
truth — and compared with what is stored, so a replay or a crash between two writes heals itself and
out-of-order batches give identical rollups. Changes to the closed-hour bookkeeping go in one
TransactWriteItems with an optimistic version check on the device item.

One writer per device at a time is assumed (Kinesis keeps one batch in flight per partition key).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from energymon.adapters.aws._dynamodb import batch_write, item_size, write_units
from energymon.adapters.aws.packing import pack_readings, unpack_readings
from energymon.domain.energy import MINUTE_MS, MinuteEnergy, floor_minute
from energymon.domain.timebuckets import label_hour, local_day_bounds_ms, local_keys, zone
from energymon.errors import StoreError
from energymon.ports import RESOLUTIONS, DeviceSummary, Period, Store

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from datetime import tzinfo

    from mypy_boto3_dynamodb import DynamoDBClient

    from energymon.domain.reading import Reading

__all__ = ["DynamoDBStore"]

_HOUR_MS = 3_600_000
_DAY_MS = 86_400_000
_DEVICES = "DEVICES"
_TRANSACT_MAX = 100
_MAX_ITEM = 400 * 1024
Item = dict[str, Any]


def _device_pk(device_id: str) -> str:
    return f"D#{device_id}"


def _msk(minute_ms: int) -> str:
    return f"M#{minute_ms:013d}"


def _hsk(hour_ms: int) -> str:
    return f"H#{hour_ms:013d}"


def _n(value: float | int) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def _num(item: Item, name: str, default: int | None = None) -> Any:
    """An integer attribute (counts, milliseconds, milliwatt-hours)."""
    if name not in item:
        return default
    return int(Decimal(item[name]["N"]))


def _float(item: Item, name: str) -> float | None:
    return float(item[name]["N"]) if name in item else None


@dataclass
class _Sums:
    """One local hour's rollup (also the device item's open hour)."""

    import_mwh: int = 0
    export_mwh: int = 0
    peak_w: float | None = None
    samples: int = 0
    readings: int = 0
    day: str = ""
    gap_minutes: int = 0

    def add(self, minute: _Minute) -> None:
        self.readings += len(minute.readings)
        m = minute.energy
        if m is None:
            return
        self.import_mwh += m.import_mwh
        self.export_mwh += m.export_mwh
        self.samples += m.samples
        self.gap_minutes += m.gap
        if m.peak_power_w is not None and (self.peak_w is None or m.peak_power_w > self.peak_w):
            self.peak_w = m.peak_power_w

    @property
    def has_energy(self) -> bool:
        """Whether the hour holds any minute row (derived minutes have samples, energy or a gap)."""
        return bool(self.samples or self.import_mwh or self.export_mwh or self.gap_minutes)

    @property
    def empty(self) -> bool:
        return not (self.has_energy or self.readings)

    def attributes(self) -> Item:
        out: Item = {"i": _n(self.import_mwh), "o": _n(self.export_mwh), "n": _n(self.samples),
                     "c": _n(self.readings), "d": {"S": self.day}}
        if self.gap_minutes:
            out["g"] = _n(self.gap_minutes)
        if self.peak_w is not None:
            out["p"] = _n(self.peak_w)
        return out

    @classmethod
    def from_item(cls, item: Item) -> _Sums:
        return cls(_num(item, "i", 0), _num(item, "o", 0), _float(item, "p"), _num(item, "n", 0),
                   _num(item, "c", 0), item.get("d", {}).get("S", ""), _num(item, "g", 0))


@dataclass
class _Minute:
    """A device-minute as held in memory between reading and writing it."""

    minute_ms: int
    readings: dict[int, Reading] = field(default_factory=dict)
    energy: MinuteEnergy | None = None
    hour_ms: int | None = None
    stored: Item | None = None  # the item as it is in the table (None: not there)

    def item(self, device_id: str, expires_at: int | None) -> Item:
        out: Item = {"pk": {"S": _device_pk(device_id)}, "sk": {"S": _msk(self.minute_ms)}}
        if self.readings:
            ordered = [self.readings[ts] for ts in sorted(self.readings)]
            out["r"] = {"B": pack_readings(self.minute_ms, ordered)}
        m = self.energy
        if m is not None:
            out.update({"i": _n(m.import_mwh), "o": _n(m.export_mwh), "n": _n(m.samples), "a": _n(m.anomalies)})
            if m.gap:
                out["g"] = _n(m.gap)
            if m.peak_power_w is not None:
                out["p"] = _n(m.peak_power_w)
        if self.hour_ms is not None:
            out["h"] = _n(self.hour_ms)
        if expires_at is not None and self.readings:
            out["expires_at"] = _n(expires_at)
        return out

    @classmethod
    def from_item(cls, device_id: str, item: Item) -> _Minute:
        minute_ms = int(item["sk"]["S"][2:])
        readings = unpack_readings(device_id, minute_ms, item["r"]["B"]) if "r" in item else []
        energy = None
        if "n" in item:
            energy = MinuteEnergy(minute_ms, _num(item, "i", 0), _num(item, "o", 0), _float(item, "p"),
                                  _num(item, "n", 0), _num(item, "a", 0), _num(item, "g", 0))
        return cls(minute_ms, {r.ts_ms: r for r in readings}, energy, _num(item, "h"), item)


@dataclass
class _Work:
    """One device's batch: minute items read once, changed in memory, written together at the end."""

    device_id: str
    minutes: dict[int, _Minute] = field(default_factory=dict)
    touched: set[int] = field(default_factory=set)  # minutes whose hour rollup must be refreshed
    loaded: set[int] = field(default_factory=set)  # minutes whose item (or absence) is known
    tz_name: str | None = None


class DynamoDBStore(Store):
    """The Store port over one DynamoDB table (see the module docstring for the item design)."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        *,
        raw_retention_days: float | None = None,
        clock: Any = time.time,
    ) -> None:
        if client is None:
            import boto3

            client = boto3.client("dynamodb")
        self.table_name = table_name
        self.client = client
        self.raw_retention_days = raw_retention_days
        self.clock = clock
        self._work: _Work | None = None
        self.consumed_write_units = 0.0  # as reported by DynamoDB (ReturnConsumedCapacity=TOTAL)
        self.estimated_write_units = 0  # from item sizes by DynamoDB's pricing rules (see _dynamodb.py)

    # ---- unit of work -------------------------------------------------------------------------------

    @contextmanager
    def unit_of_work(self, device_id: str) -> Iterator[None]:
        """Buffer ``add_readings`` and write it with ``replace_minutes`` as one set of item writes."""
        if self._work is not None:
            raise RuntimeError("unit_of_work does not nest")
        self._work = _Work(device_id)
        try:
            yield
            work = self._work
            if work.touched:
                self._flush(work)
        finally:
            self._work = None

    def _current(self, device_id: str) -> tuple[_Work, bool]:
        if self._work is not None and self._work.device_id == device_id:
            return self._work, False
        return _Work(device_id), True

    # ---- the Store port ----------------------------------------------------------------------------

    def add_readings(self, device_id: str, readings: Sequence[Reading]) -> int:
        if not readings:
            return 0
        work, standalone = self._current(device_id)
        minutes = sorted({floor_minute(r.ts_ms) for r in readings})
        self._load(work, minutes[0], minutes[-1] + MINUTE_MS)
        added = 0
        for r in readings:
            key = floor_minute(r.ts_ms)
            minute = work.minutes.setdefault(key, _Minute(key))
            if r.ts_ms not in minute.readings:
                minute.readings[r.ts_ms] = r
                work.touched.add(key)
                added += 1
        if standalone and work.touched:
            self._flush(work)
        return added

    def readings_around(self, device_id: str, start_ms: int, end_ms: int) -> list[Reading]:
        work, _ = self._current(device_id)
        self._load(work, floor_minute(start_ms), floor_minute(end_ms) + MINUTE_MS)
        inside: list[Reading] = []
        before: Reading | None = None
        after: Reading | None = None
        for key in range(floor_minute(start_ms), floor_minute(end_ms) + MINUTE_MS, MINUTE_MS):
            minute = work.minutes.get(key)
            if minute is None:
                continue
            for ts in sorted(minute.readings):
                r = minute.readings[ts]
                if ts < start_ms:
                    before = r
                elif ts <= end_ms:
                    inside.append(r)
                elif after is None:
                    after = r
        if before is None:
            before = self._nearest(work, floor_minute(start_ms), forward=False)
        if after is None:
            after = self._nearest(work, floor_minute(end_ms), forward=True)
        return [*([before] if before else []), *inside, *([after] if after else [])]

    def replace_minutes(
        self, device_id: str, start_ms: int, end_ms: int, minutes: Sequence[MinuteEnergy], tz_name: str
    ) -> None:
        zone(tz_name)
        work, standalone = self._current(device_id)
        work.tz_name = tz_name
        self._load(work, floor_minute(start_ms), end_ms)
        wanted = {m.minute_ms: m for m in minutes}
        for key, minute in list(work.minutes.items()):
            if start_ms <= key < end_ms:
                minute.energy = wanted.pop(key, None)
                work.touched.add(key)
        for key, m in wanted.items():
            work.minutes[key] = _Minute(key, energy=m)
            work.touched.add(key)
        # Even an unchanged range is refreshed: that is what heals a crash between two writes.
        work.touched.update(range(floor_minute(start_ms), end_ms, MINUTE_MS))
        if standalone:
            self._flush(work)

    def periods(self, device_id: str, resolution: str, start_ms: int, end_ms: int, tz_name: str) -> list[Period]:
        if resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}, got {resolution!r}")
        tz = zone(tz_name)
        if resolution == "minute":
            out = []
            for item in self._query(_device_pk(device_id), _msk(start_ms), _msk(end_ms - 1) if end_ms > start_ms
                                    else _msk(start_ms)):
                minute = _Minute.from_item(device_id, item)
                m = minute.energy
                if m is not None and start_ms <= minute.minute_ms < end_ms:
                    out.append(Period(label_hour(m.minute_ms, tz), m.minute_ms, m.import_mwh / 1e6,
                                      m.export_mwh / 1e6, m.peak_power_w, m.samples, m.gap))
            return out
        if resolution == "hour":
            hours = self._hours(device_id, start_ms, end_ms)
            return [Period(label_hour(h, tz), h, s.import_mwh / 1e6, s.export_mwh / 1e6, s.peak_w, s.samples,
                           s.gap_minutes) for h, s in hours if s.has_energy]
        first = datetime.fromtimestamp(start_ms / 1000, tz).strftime("%Y-%m-%d")
        last = datetime.fromtimestamp((end_ms - 1) / 1000, tz).strftime("%Y-%m-%d")
        width = 10 if resolution == "day" else 7
        first, last = first[:width], last[:width]
        lo = local_day_bounds_ms(first if width == 10 else f"{first}-01", tz)[0] - _DAY_MS
        hi = local_day_bounds_ms(last if width == 10 else f"{last}-28", tz)[1] + 4 * _DAY_MS
        groups: dict[str, _Sums] = {}
        for _, s in self._hours(device_id, lo, hi):
            key = s.day[:width]
            if not s.has_energy or not first <= key <= last:
                continue
            g = groups.setdefault(key, _Sums(day=key))
            g.import_mwh += s.import_mwh
            g.export_mwh += s.export_mwh
            g.samples += s.samples
            g.gap_minutes += s.gap_minutes
            if s.peak_w is not None and (g.peak_w is None or s.peak_w > g.peak_w):
                g.peak_w = s.peak_w
        return [Period(k, _local_start_ms(k, tz), g.import_mwh / 1e6, g.export_mwh / 1e6, g.peak_w, g.samples,
                       g.gap_minutes) for k, g in sorted(groups.items())]

    def energy_sums(self, device_id: str, ranges: Sequence[tuple[int, int]]) -> list[int]:
        """Summed from minute items in one query over the ranges' hull (costing is an occasional read)."""
        if not ranges:
            return []
        lo = min(start for start, _ in ranges)
        hi = max(end for _, end in ranges)
        energy: dict[int, int] = {}
        if hi > lo:
            for item in self._query(_device_pk(device_id), _msk(lo), _msk(hi - 1)):
                if "i" in item:
                    energy[int(item["sk"]["S"][2:])] = _num(item, "i", 0)
        return [sum(v for k, v in energy.items() if start <= k < end) for start, end in ranges]

    def devices(self) -> list[DeviceSummary]:
        out = []
        for item in self._query(_DEVICES, None, None):
            count = _num(item, "b", 0) + _num(item, "c", 0)
            out.append(DeviceSummary(item["sk"]["S"], count, _num(item, "lt"), _float(item, "lp"), _float(item, "le")))
        return sorted(out, key=lambda d: d.device_id)

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

    def _load(self, work: _Work, lo_ms: int, hi_ms: int) -> None:
        """Bring the minute items of [lo, hi) into ``work`` (what is already there wins: it may be newer)."""
        if hi_ms <= lo_ms:
            return
        missing = [k for k in range(floor_minute(lo_ms), hi_ms, MINUTE_MS) if k not in work.loaded]
        if not missing:
            return
        for item in self._query(_device_pk(work.device_id), _msk(missing[0]), _msk(missing[-1])):
            minute = _Minute.from_item(work.device_id, item)
            work.minutes.setdefault(minute.minute_ms, minute)
        work.loaded.update(missing)

    def _scan(
        self, work: _Work, minute_ms: int, *, forward: bool, readings: int, counters: bool = False,
        bound_ms: int | None = None,
    ) -> None:
        """Load minute items from ``minute_ms`` (excluded) on, one way, until ``readings`` readings (with a
        counter, when ``counters``) are known or ``bound_ms`` is passed."""
        step = MINUTE_MS if forward else -MINUTE_MS
        bound = floor_minute(bound_ms) if bound_ms is not None else None

        def count(minute: _Minute | None) -> int:
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
            lo, hi = _msk(cursor), (_msk(bound) if bound is not None else "M#~")
        else:
            lo, hi = (_msk(bound) if bound is not None else "M#"), _msk(cursor)
        last = None
        exhausted = True
        for item in self._query(_device_pk(work.device_id), lo, hi, forward=forward, limit=60):
            minute = _Minute.from_item(work.device_id, item)
            last = minute.minute_ms
            found += count(work.minutes.setdefault(last, minute))
            if found >= readings:
                exhausted = False
                break
        if exhausted and bound is not None:
            last = bound
        if last is not None:
            work.loaded.update(range(cursor, last + step, step))

    def _nearest(self, work: _Work, minute_ms: int, *, forward: bool) -> Reading | None:
        """The nearest reading strictly outside minute ``minute_ms`` in one direction."""
        self._scan(work, minute_ms, forward=forward, readings=1)
        keys = [k for k, m in work.minutes.items() if m.readings and (k > minute_ms if forward else k < minute_ms)]
        if not keys:
            return None
        best = work.minutes[min(keys) if forward else max(keys)]
        return best.readings[min(best.readings) if forward else max(best.readings)]

    def _around(self, device_id: str, ts_ms: int, limit: int, *, forward: bool, counters: bool = False,
                within_ms: int | None = None) -> list[Reading]:
        work, _ = self._current(device_id)
        first = floor_minute(ts_ms)
        self._load(work, first, first + MINUTE_MS)
        bound = None if within_ms is None else (ts_ms + within_ms if forward else ts_ms - within_ms)
        self._scan(work, first, forward=forward, readings=limit, counters=counters, bound_ms=bound)
        lo, hi = (ts_ms + 1, bound if bound is not None else 2**62) if forward else (
            bound if bound is not None else -(2**62), ts_ms - 1)
        found = sorted(
            (r for m in work.minutes.values() for r in m.readings.values()
             if lo <= r.ts_ms <= hi and (not counters or r.energy_wh is not None)),
            key=lambda r: r.ts_ms,
        )
        if limit <= 0:
            return []
        return found[:limit] if forward else found[-limit:]

    def readings_before(self, device_id: str, before_ms: int, limit: int) -> list[Reading]:
        return self._around(device_id, before_ms, limit, forward=False)

    def readings_after(self, device_id: str, after_ms: int, limit: int) -> list[Reading]:
        return self._around(device_id, after_ms, limit, forward=True)

    def counter_readings(
        self, device_id: str, ts_ms: int, limit: int, *, forward: bool, within_ms: int
    ) -> list[Reading]:
        return self._around(device_id, ts_ms, limit, forward=forward, counters=True, within_ms=within_ms)

    def _hours(self, device_id: str, start_ms: int, end_ms: int) -> list[tuple[int, _Sums]]:
        """Closed hour items in [start, end) plus the device's open hour when it falls inside."""
        out = {}
        for item in self._query(_device_pk(device_id), _hsk(max(start_ms, 0)), _hsk(max(end_ms - 1, 0))):
            out[int(item["sk"]["S"][2:])] = _Sums.from_item(item)
        device = self._get_device(device_id)
        if device is not None and "oh" in device:
            open_hour = _num(device, "oh")
            if start_ms <= open_hour < end_ms:
                out[open_hour] = _Sums.from_item(device)
        return sorted(out.items())

    def _get_device(self, device_id: str) -> Item | None:
        response = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": _DEVICES}, "sk": {"S": device_id}}, ConsistentRead=True
        )
        item: Item | None = response.get("Item")
        return item

    # ---- writing ------------------------------------------------------------------------------------

    def _expires_at(self) -> int | None:
        if self.raw_retention_days is None:
            return None
        return int(self.clock() + self.raw_retention_days * 86_400)

    def _flush(self, work: _Work) -> None:
        device_item = self._get_device(work.device_id)
        tz_name = work.tz_name or (device_item or {}).get("z", {}).get("S") or "UTC"
        tz = zone(tz_name)
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
        # 1. the minute items: the truth everything else is derived from.
        expires_at = self._expires_at()
        requests: list[Any] = []
        for key in sorted(work.touched):
            minute = work.minutes.get(key)
            if minute is None:
                continue
            if minute.readings or minute.energy is not None:
                item = minute.item(work.device_id, expires_at)
                if minute.stored is not None and _same(minute.stored, item):
                    continue
                if item_size(item) > _MAX_ITEM:
                    raise StoreError(f"minute item {work.device_id} {key} would exceed DynamoDB's 400 KB item limit")
                requests.append({"PutRequest": {"Item": item}})
                self.estimated_write_units += write_units(minute.stored, item)
                minute.stored = item
            elif minute.stored is not None:
                requests.append({"DeleteRequest": {"Key": {"pk": minute.stored["pk"], "sk": minute.stored["sk"]}}})
                self.estimated_write_units += write_units(minute.stored, None)
                minute.stored = None
        if requests:
            self.consumed_write_units += batch_write(self.client, self.table_name, requests)
        # 2. the hours above them and the device item.
        self._refresh_hours(work, hours, tz_name, device_item)

    def _refresh_hours(self, work: _Work, hours: set[int], tz_name: str, device: Item | None) -> None:  # noqa: C901
        tz = zone(tz_name)
        if hours:
            self._load(work, min(hours) - _HOUR_MS, max(hours) + 2 * _HOUR_MS)
        sums = {h: _Sums(day=local_keys(h, tz).day) for h in hours}
        last: Reading | None = None
        for minute in work.minutes.values():
            if minute.hour_ms in sums:
                sums[minute.hour_ms].add(minute)
            if minute.readings:
                newest = minute.readings[max(minute.readings)]
                if last is None or newest.ts_ms > last.ts_ms:
                    last = newest
        version = _num(device, "v", 0) if device else 0
        old_open = _num(device, "oh") if device else None
        base = _num(device, "b", 0) if device else 0
        nonempty = [h for h, s in sums.items() if not s.empty]
        new_open = max([*nonempty, *([old_open] if old_open is not None else [])], default=None)
        if new_open is None:
            return
        open_sums = sums.get(new_open) or (_Sums.from_item(device) if device and new_open == old_open else _Sums())
        closing = {h: s for h, s in sums.items() if h < new_open}
        if old_open is not None and old_open < new_open and old_open not in closing and device is not None:
            closing[old_open] = _Sums.from_item(device)
        writes: list[tuple[Any, int]] = []  # (hour write, its change to the closed-hours reading count)
        if closing:
            keys = [{"pk": {"S": _device_pk(work.device_id)}, "sk": {"S": _hsk(h)}}
                    for h in closing if h != old_open]
            stored = self._get_hours(keys)
            for h, s in sorted(closing.items()):
                old = stored.get(h)
                old_count = _Sums.from_item(old).readings if old is not None else 0
                new_item = {"pk": {"S": _device_pk(work.device_id)}, "sk": {"S": _hsk(h)}, **s.attributes()}
                if old is not None and _same(old, new_item) and h != old_open:
                    continue
                delta = s.readings - old_count
                if s.empty:
                    if old is not None:
                        writes.append(({"Delete": {"TableName": self.table_name,
                                                   "Key": {"pk": new_item["pk"], "sk": new_item["sk"]}}}, delta))
                        self.estimated_write_units += 2 * write_units(old, None)
                    else:
                        base += delta
                else:
                    writes.append(({"Put": {"TableName": self.table_name, "Item": new_item}}, delta))
                    self.estimated_write_units += 2 * write_units(old, new_item)
        new_device: Item = {"pk": {"S": _DEVICES}, "sk": {"S": work.device_id}, "oh": _n(new_open),
                            **open_sums.attributes(), "b": _n(base + sum(d for _, d in writes)), "z": {"S": tz_name}}
        previous_last = _num(device, "lt") if device else None
        if last is not None and (previous_last is None or last.ts_ms >= previous_last):
            new_device["lt"] = _n(last.ts_ms)
            for name, value in (("lp", last.power_w), ("le", last.energy_wh)):
                if value is not None:
                    new_device[name] = _n(value)
        elif device is not None:
            new_device.update({k: device[k] for k in ("lt", "lp", "le") if k in device})
        if not writes and device is not None and _same(device, new_device):
            return
        try:
            if not writes:
                new_device["v"] = _n(version + 1)
                self.estimated_write_units += write_units(device, new_device)
                response = self.client.put_item(TableName=self.table_name, Item=new_device,
                                                ReturnConsumedCapacity="TOTAL", **_version_condition(device, version))
                self.consumed_write_units += response.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)
                return
            # A long silence closes more hours than one transaction holds: commit them in chunks, each with the
            # device item carrying that chunk's share of the count, so a crash between chunks loses nothing
            # (a retry finds the committed hours unchanged and skips them, their counts already in the device).
            for start in range(0, len(writes), _TRANSACT_MAX - 1):
                chunk = writes[start:start + _TRANSACT_MAX - 1]
                base += sum(delta for _, delta in chunk)
                step = {**new_device, "b": _n(base), "v": _n(version + 1)}
                items = [write for write, _ in chunk]
                guarded = {"TableName": self.table_name, "Item": step, **_version_condition(device, version)}
                items.append({"Put": guarded})
                self.estimated_write_units += 2 * write_units(device, step)  # transactions cost double
                tx = self.client.transact_write_items(TransactItems=items, ReturnConsumedCapacity="TOTAL")
                self.consumed_write_units += sum(c.get("CapacityUnits", 0.0) for c in tx.get("ConsumedCapacity", []))
                device, version = step, version + 1
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise StoreError(f"device {work.device_id} was changed by another writer; retry the batch") from exc
        except self.client.exceptions.TransactionCanceledException as exc:
            raise StoreError(f"device {work.device_id}: hour rollup transaction cancelled ({exc}); retry") from exc

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


def _version_condition(device: Item | None, version: int) -> dict[str, Any]:
    """Optimistic lock on the device item: the write succeeds only over the version it was computed from."""
    if device is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {"ConditionExpression": "v = :v", "ExpressionAttributeValues": {":v": _n(version)}}


def _normal(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in item.items():
        if name in ("expires_at", "v"):
            continue
        ((kind, raw),) = value.items()
        out[name] = Decimal(raw) if kind == "N" else (bytes(raw) if kind == "B" else raw)
    return out


def _same(a: Item, b: Item) -> bool:
    """Equal as DynamoDB stores them (it normalises numbers: ``412.0`` comes back as ``412``)."""
    return _normal(a) == _normal(b)


def _local_start_ms(key: str, tz: tzinfo) -> int:
    day = key if len(key) == 10 else f"{key}-01"
    return int(datetime.fromisoformat(day).replace(tzinfo=tz).timestamp() * 1000)
