"""Pack one device-minute of raw readings into a few hundred bytes, losslessly.

DynamoDB charges one write unit per started KB of the item written, so the minute item (raw readings
plus that minute's energy) must stay under 1 KB at 1 Hz. Each field is a column; a column whose values
are all decimals with at most nine fractional digits (what meters send: ``412.5``, ``1234567.891``)
is stored as zigzag-varint deltas of the scaled integers, otherwise as IEEE doubles. The round trip is
exact (checked while encoding), so recomputing energy from packed readings gives the same result as
from the originals. zlib is applied when it makes the blob smaller.
"""

from __future__ import annotations

import struct
import zlib
from typing import TYPE_CHECKING

from energymon.domain.reading import Reading

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["MinuteRow", "pack_minute_rows", "pack_readings", "unpack_minute_rows", "unpack_readings"]

_VERSION = 1
_FIELDS = ("power_w", "energy_wh", "export_wh", "voltage_v", "current_a")
_ABSENT, _SCALED, _DOUBLE = 0, 1, 2
_HAS_NULLS = 0x80
_MAX_SCALE = 9
_RAW, _ZLIB = 0, 1


def _put_varint(value: int, out: bytearray) -> None:
    value = -2 * value - 1 if value < 0 else 2 * value  # zigzag, any size
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _get_varint(data: bytes | memoryview, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return (result >> 1) ^ -(result & 1), pos


def _scale(values: Sequence[float]) -> int | None:
    """The smallest power of ten that turns every value into an integer exactly, if there is one."""
    for k in range(_MAX_SCALE + 1):
        m = 10**k
        try:
            if all(round(v * m) / m == v for v in values):
                return k
        except (OverflowError, ValueError):
            return None
    return None


def pack_readings(minute_ms: int, readings: Sequence[Reading]) -> bytes:
    """Readings of one device-minute, sorted by time with unique timestamps, as a compact blob."""
    out = bytearray([_VERSION])
    _put_varint(len(readings), out)
    previous = minute_ms
    for r in readings:
        _put_varint(r.ts_ms - previous, out)
        previous = r.ts_ms
    for name in _FIELDS:
        column = [getattr(r, name) for r in readings]
        values = [v for v in column if v is not None]
        if not values:
            out.append(_ABSENT)
            continue
        k = _scale(values)
        kind = (_SCALED if k is not None else _DOUBLE) | (_HAS_NULLS if len(values) < len(column) else 0)
        out.append(kind)
        if kind & _HAS_NULLS:
            mask = 0
            for i, v in enumerate(column):
                if v is not None:
                    mask |= 1 << i
            out += mask.to_bytes((len(column) + 7) // 8, "little")
        if k is None:
            out += struct.pack(f"<{len(values)}d", *values)
            continue
        out.append(k)
        m, prev = 10**k, 0
        for v in values:
            scaled = round(v * m)
            _put_varint(scaled - prev, out)
            prev = scaled
    raw = bytes(out)
    packed = zlib.compress(raw, 9)
    return bytes([_ZLIB]) + packed if len(packed) < len(raw) else bytes([_RAW]) + raw


def unpack_readings(device_id: str, minute_ms: int, blob: bytes) -> list[Reading]:
    data = zlib.decompress(blob[1:]) if blob[0] == _ZLIB else blob[1:]
    if data[0] != _VERSION:
        raise ValueError(f"unknown packed-readings version {data[0]}")
    count, pos = _get_varint(data, 1)
    stamps = []
    previous = minute_ms
    for _ in range(count):
        delta, pos = _get_varint(data, pos)
        previous += delta
        stamps.append(previous)
    columns: dict[str, list[float | None]] = {}
    for name in _FIELDS:
        kind = data[pos]
        pos += 1
        if kind == _ABSENT:
            columns[name] = [None] * count
            continue
        present = [True] * count
        if kind & _HAS_NULLS:
            size = (count + 7) // 8
            mask = int.from_bytes(data[pos : pos + size], "little")
            pos += size
            present = [bool(mask >> i & 1) for i in range(count)]
        n = sum(present)
        values: list[float]
        if kind & ~_HAS_NULLS == _DOUBLE:
            values = list(struct.unpack_from(f"<{n}d", data, pos))
            pos += 8 * n
        else:
            k = data[pos]
            pos += 1
            m, acc, values = 10**k, 0, []
            for _ in range(n):
                delta, pos = _get_varint(data, pos)
                acc += delta
                values.append(acc / m)
        it = iter(values)
        columns[name] = [next(it) if p else None for p in present]
    return [
        Reading(device_id, ts, *(columns[name][i] for name in _FIELDS))
        for i, ts in enumerate(stamps)
    ]


# ---- the minute rollups of one closed hour ----------------------------------------------------------------

_ROLLUP_VERSION = 1
MinuteRow = tuple[int, int, int, "float | None", int, int, int, int]
"""(minute_ms, import_mwh, export_mwh, peak_w, samples, anomalies, gap, raw reading count)"""


def pack_minute_rows(hour_ms: int, rows: Sequence[MinuteRow]) -> bytes:
    """One local hour's minute rollups, sorted by minute, as a compact blob (the hour item's ``m``).

    Minute items expire with their raw readings (DynamoDB TTL); this copy in the hour item, written anyway
    when the hour closes, is what keeps minute resolution forever without another item write.
    """
    out = bytearray([_ROLLUP_VERSION])
    _put_varint(len(rows), out)
    previous = hour_ms
    for row in rows:
        _put_varint((row[0] - previous) // 60_000, out)
        previous = row[0]
        for value in row[1:3]:
            _put_varint(int(value), out)
        for value in row[4:]:
            _put_varint(int(value), out)
    peaks = [row[3] for row in rows]
    present = [p for p in peaks if p is not None]
    mask = sum(1 << i for i, p in enumerate(peaks) if p is not None)
    out += mask.to_bytes((len(rows) + 7) // 8, "little")
    k = _scale(present) if present else 0
    if k is None:
        out.append(0xFF)
        out += struct.pack(f"<{len(present)}d", *present)
    else:
        out.append(k)
        m, prev = 10**k, 0
        for p in present:
            scaled = round(p * m)
            _put_varint(scaled - prev, out)
            prev = scaled
    raw = bytes(out)
    packed = zlib.compress(raw, 9)
    return bytes([_ZLIB]) + packed if len(packed) < len(raw) else bytes([_RAW]) + raw


def unpack_minute_rows(hour_ms: int, blob: bytes) -> list[MinuteRow]:
    data = zlib.decompress(blob[1:]) if blob[0] == _ZLIB else blob[1:]
    if data[0] != _ROLLUP_VERSION:
        raise ValueError(f"unknown packed-minutes version {data[0]}")
    count, pos = _get_varint(data, 1)
    ints: list[list[int]] = []
    previous = hour_ms
    for _ in range(count):
        step, pos = _get_varint(data, pos)
        previous += step * 60_000
        values = [previous]
        for _ in range(6):
            value, pos = _get_varint(data, pos)
            values.append(value)
        ints.append(values)
    size = (count + 7) // 8
    mask = int.from_bytes(data[pos : pos + size], "little")
    pos += size
    n_present = bin(mask).count("1")
    k = data[pos]
    pos += 1
    peaks: list[float]
    if k == 0xFF:
        peaks = list(struct.unpack_from(f"<{n_present}d", data, pos))
    else:
        m, acc, peaks = 10**k, 0, []
        for _ in range(n_present):
            delta, pos = _get_varint(data, pos)
            acc += delta
            peaks.append(acc / m)
    it = iter(peaks)
    return [(v[0], v[1], v[2], next(it) if mask >> i & 1 else None, v[3], v[4], v[5], v[6])
            for i, v in enumerate(ints)]
