"""The smallest Store: only the private hooks and the reads no base can derive, over dictionaries.

It exists to show (and pin) what the port's bases give every backend: the empty-batch short cut, the zone and
resolution checks, local-day cutting and period labels, and the generic ``readings_before/after`` and
``counter_readings`` over ``readings_around``. It passes the same contract suite as SQLite and DynamoDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from energymon.domain.timebuckets import local_keys
from energymon.ports import DeviceSummary, Rollup, Store

if TYPE_CHECKING:
    from collections.abc import Sequence
    from zoneinfo import ZoneInfo

    from energymon.domain.energy import MinuteEnergy
    from energymon.domain.reading import Reading


class MemoryStore(Store):
    def __init__(self) -> None:
        self.readings: dict[str, dict[int, Reading]] = {}
        self.minutes: dict[str, dict[int, tuple[MinuteEnergy, str]]] = {}  # minute -> (energy, local day)
        self.hour_of: dict[str, dict[int, int]] = {}

    def _add_readings(self, device_id: str, readings: Sequence[Reading]) -> int:
        stored = self.readings.setdefault(device_id, {})
        new = [r for r in readings if r.ts_ms not in stored]
        stored.update({r.ts_ms: r for r in new})
        return len(new)

    def readings_around(self, device_id: str, start_ms: int, end_ms: int) -> list[Reading]:
        ordered = sorted(self.readings.get(device_id, {}).values(), key=lambda r: r.ts_ms)
        before = [r for r in ordered if r.ts_ms < start_ms][-1:]
        after = [r for r in ordered if r.ts_ms > end_ms][:1]
        return [*before, *(r for r in ordered if start_ms <= r.ts_ms <= end_ms), *after]

    def _replace_minutes(
        self, device_id: str, start_ms: int, end_ms: int, minutes: Sequence[MinuteEnergy], tz_name: str,
        tz: ZoneInfo,
    ) -> None:
        kept = {k: v for k, v in self.minutes.get(device_id, {}).items() if not start_ms <= k < end_ms}
        hours = {k: h for k, h in self.hour_of.get(device_id, {}).items() if k in kept}
        for m in minutes:
            keys = local_keys(m.minute_ms, tz)
            kept[m.minute_ms] = (m, keys.day)
            hours[m.minute_ms] = keys.hour_ms
        self.minutes[device_id], self.hour_of[device_id] = kept, hours

    def _utc_rollups(self, device_id: str, resolution: str, start_ms: int, end_ms: int) -> list[tuple[int, Rollup]]:
        hour_of = self.hour_of.get(device_id, {})
        groups: dict[int, list[MinuteEnergy]] = {}
        for k, (m, _) in sorted(self.minutes.get(device_id, {}).items()):
            key = k if resolution == "minute" else hour_of[k]
            if start_ms <= key < end_ms:
                groups.setdefault(key, []).append(m)
        return [(k, _sum(ms)) for k, ms in sorted(groups.items())]

    def _local_rollups(
        self, device_id: str, resolution: str, first: str, last: str, tz: ZoneInfo
    ) -> list[tuple[str, Rollup]]:
        groups: dict[str, list[MinuteEnergy]] = {}
        for m, day in self.minutes.get(device_id, {}).values():
            key = day[: len(first)]
            if first <= key <= last:
                groups.setdefault(key, []).append(m)
        return [(k, _sum(ms)) for k, ms in sorted(groups.items())]

    def devices(self) -> list[DeviceSummary]:
        out = []
        for device, stored in sorted(self.readings.items()):
            last = stored[max(stored)]
            out.append(DeviceSummary(device, len(stored), last.ts_ms, last.power_w, last.energy_wh))
        return out

    def energy_sums(self, device_id: str, ranges: Sequence[tuple[int, int]]) -> list[int]:
        minutes = self.minutes.get(device_id, {})
        return [sum(m.import_mwh for k, (m, _) in minutes.items() if start <= k < end) for start, end in ranges]


def _sum(minutes: list[MinuteEnergy]) -> Rollup:
    peaks = [m.peak_power_w for m in minutes if m.peak_power_w is not None]
    return Rollup(sum(m.import_mwh for m in minutes), sum(m.export_mwh for m in minutes),
                  max(peaks) if peaks else None, sum(m.samples for m in minutes), sum(m.gap for m in minutes))
