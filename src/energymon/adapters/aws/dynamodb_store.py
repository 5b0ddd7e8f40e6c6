"""The DynamoDB store: one table, designed so that a reading costs well under a quarter of a write unit.

Item layout in dynamodb_items.py; reads in dynamodb_reads.py; the write of a unit of work and the rollup
refresh in dynamodb_rollups.py. Why this layout: a 10 s batch at 1 Hz touches one minute item (two when it
straddles a minute) and the device item, both under 1 KB: about 2.2 write units per 10 readings. Hour items
are written once, when their hour closes (or when late data changes a closed hour), days and months are
summed from hour items at query time. Raw history lives in the S3 archive; ``raw_retention_days`` lets
minute items expire (DynamoDB TTL) while their energy stays in the hour item (dynamodb_items.py).

Every derived value (hour sums, counts, the last reading) is recomputed from the minute items — the
truth — and compared with what is stored, so a replay or a crash between two writes heals itself and
out-of-order batches give identical rollups.

One writer per device at a time: Kinesis keeps one batch in flight per partition key; under SQS, which does
not, the unit of work is ``exclusive`` and holds the device's lease (device_lease.py).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from energymon.adapters.aws.device_lease import DeviceLease
from energymon.adapters.aws.dynamodb_items import (
    DEVICES,
    Minute,
    Sums,
    Work,
    device_pk,
    hour_rows,
    hour_sk,
    minute_sk,
    num,
    num_float,
    row_energy,
)
from energymon.adapters.aws.dynamodb_rollups import RollupWriter
from energymon.domain.energy import MINUTE_MS, floor_minute
from energymon.domain.timebuckets import local_day_bounds_ms
from energymon.ports import DeviceSummary, Rollup, Store

if TYPE_CHECKING:
    from collections.abc import Container, Iterator, Sequence
    from zoneinfo import ZoneInfo

    from mypy_boto3_dynamodb import DynamoDBClient

    from energymon.domain.energy import MinuteEnergy
    from energymon.domain.reading import Reading

__all__ = ["DynamoDBStore"]

_DAY_MS = 86_400_000
_HOUR_MS = 3_600_000


class DynamoDBStore(RollupWriter, Store):
    """The Store port over one DynamoDB table (see dynamodb_items.py for the item design)."""

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
        super().__init__(table_name, client, raw_retention_days=raw_retention_days, clock=clock)
        self._work: Work | None = None


    # ---- unit of work -------------------------------------------------------------------------------

    @contextmanager
    def unit_of_work(self, device_id: str, *, exclusive: bool = False) -> Iterator[None]:
        """Buffer ``add_readings`` and write it with ``replace_minutes`` as one set of item writes; with
        ``exclusive``, under the device's lease (device_lease.py), taken before anything is read."""
        if self._work is not None:
            raise RuntimeError("unit_of_work does not nest")
        lease = DeviceLease(self.client, self.table_name, device_id, self.clock) if exclusive else None
        if lease is not None:
            lease.acquire()
        self._work = Work(device_id)
        try:
            yield
            work = self._work
            if work.touched:
                self._flush(work)
        finally:
            self._work = None
            if lease is not None:
                lease.release()

    def _current(self, device_id: str) -> tuple[Work, bool]:
        if self._work is not None and self._work.device_id == device_id:
            return self._work, False
        return Work(device_id), True

    # ---- the Store port ----------------------------------------------------------------------------

    def _add_readings(self, device_id: str, readings: Sequence[Reading]) -> int:
        work, standalone = self._current(device_id)
        minutes = sorted({floor_minute(r.ts_ms) for r in readings})
        device = self._device(work)
        self._prefetch(work, minutes[0], minutes[-1])
        added = 0
        for r in readings:
            key = floor_minute(r.ts_ms)
            minute = work.minutes.setdefault(key, Minute(key))
            if r.ts_ms not in minute.readings:
                minute.readings[r.ts_ms] = r
                work.touched.add(key)
                added += 1
        if added < len(readings):
            work.replayed = True
        elif device is not None and "lt" in device and floor_minute(num(device, "lt")) <= minutes[-1] \
                and not work.replayed:
            # Readings past the device's newest: the table holds no minute item after this batch's last (minute
            # items are written before the device item, so a crash between the two leaves items past ``lt``
            # only until the batch is redelivered; a redelivery is ``replayed`` and reads everything).
            work.none_after = minutes[-1] if work.none_after is None else max(work.none_after, minutes[-1])
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

    def _replace_minutes(
        self, device_id: str, start_ms: int, end_ms: int, minutes: Sequence[MinuteEnergy], tz_name: str,
        tz: ZoneInfo,
    ) -> None:
        work, standalone = self._current(device_id)
        work.tz_name = tz_name
        self._load(work, floor_minute(start_ms), end_ms)
        wanted = {m.minute_ms: m for m in minutes}
        for key, minute in list(work.minutes.items()):
            if start_ms <= key < end_ms:
                minute.energy = wanted.pop(key, None)
                work.touched.add(key)
        for key, m in wanted.items():
            work.minutes[key] = Minute(key, energy=m)
            work.touched.add(key)
        # Even an unchanged range is refreshed: that is what heals a crash between two writes.
        work.touched.update(range(floor_minute(start_ms), end_ms, MINUTE_MS))
        if standalone:
            self._flush(work)

    def _utc_rollups(self, device_id: str, resolution: str, start_ms: int, end_ms: int) -> list[tuple[int, Rollup]]:
        if resolution == "hour":
            return [(h, s.rollup()) for h, s in self._hours(device_id, start_ms, end_ms) if s.has_energy]
        energy: dict[int, MinuteEnergy] = {}
        hi = minute_sk(end_ms - 1) if end_ms > start_ms else minute_sk(start_ms)
        for item in self._query(device_pk(device_id), minute_sk(start_ms), hi):
            minute = Minute.from_item(device_id, item)
            if minute.energy is not None and start_ms <= minute.minute_ms < end_ms:
                energy[minute.minute_ms] = minute.energy
        energy.update(self._expired_minutes(device_id, start_ms, end_ms, energy))
        return [(k, Rollup(m.import_mwh, m.export_mwh, m.peak_power_w, m.samples, m.gap))
                for k, m in sorted(energy.items())]

    def _expired_minutes(
        self, device_id: str, start_ms: int, end_ms: int, present: Container[int]
    ) -> dict[int, MinuteEnergy]:
        """Minutes in [start, end) whose items TTL may have deleted, from their closed hours' ``m``."""
        if self.raw_retention_days is None or end_ms <= start_ms:
            return {}
        # An item lives at least the retention after its minute: younger ranges need no second query.
        if start_ms >= (self.clock() - (self.raw_retention_days - 1) * 86_400) * 1000:
            return {}
        out: dict[int, MinuteEnergy] = {}
        for item in self._query(device_pk(device_id), hour_sk(max(start_ms - _HOUR_MS, 0)), hour_sk(end_ms - 1)):
            for row in hour_rows(item):
                energy = row_energy(row)
                if energy is not None and start_ms <= row[0] < end_ms and row[0] not in present:
                    out[row[0]] = energy
        return out

    def _local_rollups(
        self, device_id: str, resolution: str, first: str, last: str, tz: ZoneInfo
    ) -> list[tuple[str, Rollup]]:
        """Summed from the hour items of a few days more than [first, last] (a local day starts anywhere)."""
        width = len(first)
        lo = local_day_bounds_ms(first if width == 10 else f"{first}-01", tz)[0] - _DAY_MS
        hi = local_day_bounds_ms(last if width == 10 else f"{last}-28", tz)[1] + 4 * _DAY_MS
        groups: dict[str, Sums] = {}
        for _, s in self._hours(device_id, lo, hi):
            key = s.day[:width]
            if not s.has_energy or not first <= key <= last:
                continue
            groups.setdefault(key, Sums(day=key)).add_sums(s)
        return [(k, g.rollup()) for k, g in sorted(groups.items())]

    def energy_sums(self, device_id: str, ranges: Sequence[tuple[int, int]]) -> list[int]:
        """Summed from minute items in one query over the ranges' hull (costing is an occasional read)."""
        if not ranges:
            return []
        lo = min(start for start, _ in ranges)
        hi = max(end for _, end in ranges)
        energy: dict[int, int] = {}
        if hi > lo:
            for item in self._query(device_pk(device_id), minute_sk(lo), minute_sk(hi - 1)):
                if "i" in item:
                    energy[int(item["sk"]["S"][2:])] = num(item, "i", 0)
            energy.update({k: m.import_mwh for k, m in self._expired_minutes(device_id, lo, hi, energy).items()})
        return [sum(v for k, v in energy.items() if start <= k < end) for start, end in ranges]

    def devices(self) -> list[DeviceSummary]:
        out: list[DeviceSummary] = []
        for item in self._query(DEVICES, None, None):
            count = num(item, "b", 0) + num(item, "c", 0)
            out.append(DeviceSummary(item["sk"]["S"], count, num(item, "lt"), num_float(item, "lp"),
                                     num_float(item, "le")))
        return sorted(out, key=lambda d: d.device_id)

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
