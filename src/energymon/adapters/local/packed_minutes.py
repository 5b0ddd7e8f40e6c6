"""One device's raw readings of one UTC minute as one blob: what the SQLite store keeps instead of a row per reading.

A row per reading cost 67 bytes on disk and two B-tree inserts (the key and the counters' index), the largest part
of a batch; a minute's readings in one row cost a few bytes each and one upsert per minute.

Layout (little-endian):

- byte 0: format version (1);
- byte 1: the fields present in the minute (bit i: ``FIELDS[i]``); byte 2: those absent from some of its readings;
- ``n`` × uint16: each reading's milliseconds into the minute, strictly increasing;
- per present field, ``n`` × float64; NaN stands for "absent" in a field of byte 2 (a reading is never NaN).

``n`` follows from the length, so the blob carries nothing twice. Floats are kept to the bit, so a reading read
back equals the reading written.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass
from math import isnan
from operator import attrgetter
from typing import TYPE_CHECKING

from energymon.domain.reading import Reading, make_reading

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

__all__ = ["FIELDS", "MinuteReadings", "PackedFormatError"]

FIELDS = ("power_w", "energy_wh", "export_wh", "voltage_v", "current_a")
_VERSION = 1
_HEADER = 3
_NAN = float("nan")
_BIG_ENDIAN = sys.byteorder == "big"
_WIDTH = [2 + 8 * bin(mask).count("1") for mask in range(32)]  # bytes per reading, by the present fields


class PackedFormatError(ValueError):
    """A blob this code cannot read (another version, or cut short)."""


def _floats(data: bytes | memoryview) -> array[float]:
    values = array("d")
    values.frombytes(data)
    if _BIG_ENDIAN:
        values.byteswap()
    return values


@dataclass(slots=True)
class MinuteReadings:
    """A minute's readings as columns: offsets (ms into the minute) and one list per field (None: absent)."""

    minute_ms: int
    offsets: list[int]
    columns: list[list[float | None] | None]  # per FIELDS entry; None: no reading of the minute has it

    @classmethod
    def unpack(cls, minute_ms: int, data: bytes) -> MinuteReadings:
        if len(data) < _HEADER or data[0] != _VERSION:
            raise PackedFormatError(f"minute {minute_ms}: not a version-{_VERSION} readings blob")
        present, gaps = data[1], data[2]
        width = _WIDTH[present & 31]
        n, rest = divmod(len(data) - _HEADER, width)
        if rest or not n:
            raise PackedFormatError(f"minute {minute_ms}: {len(data)} bytes do not hold whole readings")
        offsets = array("H")
        offsets.frombytes(data[_HEADER:_HEADER + 2 * n])
        if _BIG_ENDIAN:
            offsets.byteswap()
        columns: list[list[float | None] | None] = []
        at = _HEADER + 2 * n
        for bit in range(len(FIELDS)):
            if not present >> bit & 1:
                columns.append(None)
                continue
            values: list[float | None] = _floats(memoryview(data)[at:at + 8 * n]).tolist()  # type: ignore[assignment]
            at += 8 * n
            if gaps >> bit & 1:
                values = [None if isnan(v) else v for v in values]  # type: ignore[arg-type]
            columns.append(values)
        return cls(minute_ms, offsets.tolist(), columns)

    @classmethod
    def of(cls, minute_ms: int, readings: Iterable[Reading]) -> MinuteReadings:
        """Readings of one minute, in time order with unique timestamps."""
        rows = list(readings)
        return cls(minute_ms, [r.ts_ms - minute_ms for r in rows], _columns(rows))

    def pack(self) -> bytes:
        present = gaps = 0
        parts = [b""]
        offsets = array("H", self.offsets)
        if _BIG_ENDIAN:
            offsets.byteswap()
        parts.append(offsets.tobytes())
        for bit, values in enumerate(self.columns):
            if values is None:
                continue
            present |= 1 << bit
            if None in values:
                gaps |= 1 << bit
                floats = array("d", [_NAN if v is None else v for v in values])
            else:
                floats = array("d", values)  # type: ignore[arg-type]
            if _BIG_ENDIAN:
                floats.byteswap()
            parts.append(floats.tobytes())
        parts[0] = bytes((_VERSION, present, gaps))
        return b"".join(parts)

    def __len__(self) -> int:
        return len(self.offsets)

    @property
    def counters(self) -> int:
        """How many of the minute's readings carry the import counter."""
        values = self.columns[1]
        return 0 if values is None else len(values) - values.count(None)

    def readings(self, device_id: str) -> list[Reading]:
        minute = self.minute_ms
        power, energy, export, voltage, current = self.columns
        if export is None and voltage is None and current is None:
            # Nearly every minute: power and counter only.
            if power is not None and energy is not None:
                return [make_reading(device_id, minute + o, p, e) for o, p, e in zip(self.offsets, power, energy,
                                                                                    strict=True)]
            if power is not None:
                return [make_reading(device_id, minute + o, p) for o, p in zip(self.offsets, power, strict=True)]
        return [make_reading(device_id, minute + self.offsets[i], *(None if c is None else c[i] for c in self.columns))
                for i in range(len(self.offsets))]

    def reading(self, device_id: str, index: int) -> Reading:
        """One reading (``index`` as in a list: -1 is the last) without building the others."""
        power, energy, export, voltage, current = self.columns
        return make_reading(device_id, self.minute_ms + self.offsets[index],
                            None if power is None else power[index], None if energy is None else energy[index],
                            None if export is None else export[index], None if voltage is None else voltage[index],
                            None if current is None else current[index])

    def counter_readings(self, device_id: str, lo_ms: int, hi_ms: int, newest: int | None = None) -> list[Reading]:
        """The readings in [lo, hi] that carry the import counter, in time order (only the ``newest`` last ones if
        given: the processor's warm-up wants 8 of a minute's 60)."""
        energy = self.columns[1]
        if energy is None:
            return []
        lo, hi = lo_ms - self.minute_ms, hi_ms - self.minute_ms
        picked = [i for i, (offset, value) in enumerate(zip(self.offsets, energy, strict=True))
                  if value is not None and lo <= offset <= hi]
        if newest is not None:
            picked = picked[-newest:] if newest > 0 else []
        return [self.reading(device_id, i) for i in picked]

    def add(self, readings: Sequence[Reading]) -> int:
        """Add the readings whose timestamps the minute does not hold yet (the first of equal ones wins, as a
        stored one does); how many were added. ``readings`` all belong to this minute."""
        held = set(self.offsets)
        new: list[Reading] = []
        for r in readings:
            offset = r.ts_ms - self.minute_ms
            if offset not in held:
                held.add(offset)
                new.append(r)
        if not new:
            return 0
        if new[0].ts_ms - self.minute_ms > self.offsets[-1] and all(
                a.ts_ms < b.ts_ms for a, b in zip(new, new[1:], strict=False)):
            self._extend(new)  # the usual case: later readings of a minute already begun
        else:
            self._hold(sorted([*self.readings(""), *new], key=_ts))
        return len(new)

    def _extend(self, new: list[Reading]) -> None:
        held = len(self.offsets)
        self.offsets.extend(r.ts_ms - self.minute_ms for r in new)
        for bit, values in enumerate(_columns(new)):
            column = self.columns[bit]
            if values is None:
                if column is not None:
                    column.extend([None] * len(new))
                continue
            if column is None:
                column = self.columns[bit] = [None] * held
            column.extend(values)

    def keep(self, wanted: Callable[[Reading], bool]) -> int:
        """Keep the readings for which ``wanted(reading)`` is true; how many were dropped."""
        readings = self.readings("")
        kept = [r for r in readings if wanted(r)]
        if len(kept) < len(readings):
            self._hold(kept)
        return len(readings) - len(kept)

    def _hold(self, readings: list[Reading]) -> None:
        """Hold exactly ``readings`` (in time order, unique)."""
        rebuilt = MinuteReadings.of(self.minute_ms, readings)
        self.offsets, self.columns = rebuilt.offsets, rebuilt.columns


_VALUES = attrgetter(*FIELDS)


def _columns(rows: list[Reading]) -> list[list[float | None] | None]:
    """The readings' fields as columns, None for a field no reading has (one C call per reading, not five)."""
    columns: list[list[float | None] | None] = [list(c) for c in zip(*map(_VALUES, rows), strict=True)] if rows \
        else [None] * len(FIELDS)
    for bit, column in enumerate(columns):
        if column is not None and column.count(None) == len(column):
            columns[bit] = None
    return columns


def _ts(reading: Reading) -> int:
    return reading.ts_ms
