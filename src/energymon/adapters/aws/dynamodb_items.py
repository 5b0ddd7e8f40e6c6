"""The DynamoDB store's item layout: keys, attribute encoding, and the minute and hour items in memory.

Single-table layout (``pk``/``sk`` strings, TTL attribute ``expires_at``)::

    pk = D#<device>  sk = M#<utc minute ms, 13 digits>   one device-minute: its raw readings packed in
                                                         ``r`` (see packing.py) and, once derived, its
                                                         energy ``i``/``o`` (mWh), peak ``p``, samples
                                                         ``n``, anomalies ``a``, gap ``g``, local hour ``h``
    pk = D#<device>  sk = H#<local hour start ms>        a *closed* local hour: sums ``i o p n g``, raw
                                                         reading count ``c``, local day ``d``, and its
                                                         minute rollups packed in ``m`` (see packing.py)
    pk = DEVICES     sk = <device>                       the device: its *open* (latest) hour ``oh`` and its
                                                         sums, count of readings in closed hours ``b``, last
                                                         reading ``lt lp le``, zone ``z``, version ``v``
    pk = CHECKPOINT#<consumer>  sk = <shard id>          stream checkpoints (kinesis_stream.py)

With ``raw_retention_days`` a minute item carries ``expires_at`` and DynamoDB's TTL deletes it, raw readings and
all: its energy lives on in its hour item's ``m``, written anyway when the hour closes, so the retention costs
no write unit. A minute item without ``expires_at`` is a pinned silence opener (``pin_openers``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from energymon.adapters.aws.packing import (
    MinuteRow,
    pack_minute_rows,
    pack_readings,
    unpack_minute_rows,
    unpack_readings,
)
from energymon.domain.energy import MinuteEnergy
from energymon.ports import Rollup

if TYPE_CHECKING:
    from energymon.domain.reading import Reading

__all__ = ["DEVICES", "Item", "Minute", "Sums", "Work", "device_pk", "hour_rows", "hour_sk", "minute_sk", "n", "num",
           "num_float", "row_energy", "same", "version_condition"]

DEVICES = "DEVICES"
Item = dict[str, Any]


def device_pk(device_id: str) -> str:
    return f"D#{device_id}"


def minute_sk(minute_ms: int) -> str:
    return f"M#{minute_ms:013d}"


def hour_sk(hour_ms: int) -> str:
    return f"H#{hour_ms:013d}"


def n(value: float | int) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def num(item: Item, name: str, default: int | None = None) -> Any:
    """An integer attribute (counts, milliseconds, milliwatt-hours)."""
    if name not in item:
        return default
    return int(Decimal(item[name]["N"]))


def num_float(item: Item, name: str) -> float | None:
    return float(item[name]["N"]) if name in item else None


@dataclass
class Sums:
    """One local hour's rollup (also the device item's open hour)."""

    import_mwh: int = 0
    export_mwh: int = 0
    peak_w: float | None = None
    samples: int = 0
    readings: int = 0
    day: str = ""
    gap_minutes: int = 0
    rows: dict[int, MinuteRow] = field(default_factory=dict)  # the minutes summed here (closed hours only)

    def add(self, minute: Minute) -> None:
        self.readings += len(minute.readings)
        m = minute.energy
        if m is not None:
            self._accumulate(m.import_mwh, m.export_mwh, m.samples, m.gap, m.peak_power_w)
            self.rows[minute.minute_ms] = (minute.minute_ms, m.import_mwh, m.export_mwh, m.peak_power_w, m.samples,
                                           m.anomalies, m.gap, len(minute.readings))
        elif minute.readings:
            self.rows[minute.minute_ms] = (minute.minute_ms, 0, 0, None, 0, 0, 0, len(minute.readings))

    def add_row(self, row: MinuteRow) -> None:
        """A minute whose item has expired, as its hour item remembers it."""
        self.readings += row[7]
        self.rows[row[0]] = row
        if row_energy(row) is not None:
            self._accumulate(row[1], row[2], row[4], row[6], row[3])

    def add_sums(self, other: Sums) -> None:
        """Another rollup's energy (hours summed into a local day or month)."""
        self._accumulate(other.import_mwh, other.export_mwh, other.samples, other.gap_minutes, other.peak_w)

    def _accumulate(self, import_mwh: int, export_mwh: int, samples: int, gap: int, peak_w: float | None) -> None:
        self.import_mwh += import_mwh
        self.export_mwh += export_mwh
        self.samples += samples
        self.gap_minutes += gap
        if peak_w is not None and (self.peak_w is None or peak_w > self.peak_w):
            self.peak_w = peak_w

    @property
    def has_energy(self) -> bool:
        """Whether the hour holds any minute row (derived minutes have samples, energy or a gap)."""
        return bool(self.samples or self.import_mwh or self.export_mwh or self.gap_minutes)

    @property
    def empty(self) -> bool:
        return not (self.has_energy or self.readings)

    def attributes(self, hour_ms: int | None = None) -> Item:
        """The sums as attributes; with ``hour_ms`` (a closed hour's item) its minute rollups too."""
        out: Item = {"i": n(self.import_mwh), "o": n(self.export_mwh), "n": n(self.samples),
                     "c": n(self.readings), "d": {"S": self.day}}
        if self.gap_minutes:
            out["g"] = n(self.gap_minutes)
        if self.peak_w is not None:
            out["p"] = n(self.peak_w)
        if hour_ms is not None and self.rows:
            out["m"] = {"B": pack_minute_rows(hour_ms, [self.rows[k] for k in sorted(self.rows)])}
        return out

    def rollup(self) -> Rollup:
        return Rollup(self.import_mwh, self.export_mwh, self.peak_w, self.samples, self.gap_minutes)

    @classmethod
    def from_item(cls, item: Item) -> Sums:
        return cls(num(item, "i", 0), num(item, "o", 0), num_float(item, "p"), num(item, "n", 0),
                   num(item, "c", 0), item.get("d", {}).get("S", ""), num(item, "g", 0))


def hour_rows(item: Item) -> list[MinuteRow]:
    """The minute rollups a closed hour item holds (none in items written before they were packed there)."""
    if "m" not in item:
        return []
    return unpack_minute_rows(int(item["sk"]["S"][2:]), bytes(item["m"]["B"]))


def row_energy(row: MinuteRow) -> MinuteEnergy | None:
    """A packed minute's energy, or None for a minute that held readings but no derived energy."""
    if not (row[4] or row[1] or row[2] or row[6]) and row[3] is None:
        return None
    return MinuteEnergy(row[0], row[1], row[2], row[3], row[4], row[5], row[6])


@dataclass
class Minute:
    """A device-minute as held in memory between reading and writing it."""

    minute_ms: int
    readings: dict[int, Reading] = field(default_factory=dict)
    energy: MinuteEnergy | None = None
    hour_ms: int | None = None
    stored: Item | None = None  # the item as it is in the table (None: not there)
    # What the table's item counts towards its hour (readings, energy), as read: the open hour's sums change by
    # the difference (dynamodb_rollups.py), so they need no re-read of the hour's other minutes.
    was: tuple[int, MinuteEnergy | None] = (0, None)

    def item(self, device_id: str, expires_at: int | None) -> Item:
        out: Item = {"pk": {"S": device_pk(device_id)}, "sk": {"S": minute_sk(self.minute_ms)}}
        if self.readings:
            ordered = [self.readings[ts] for ts in sorted(self.readings)]
            out["r"] = {"B": pack_readings(self.minute_ms, ordered)}
        m = self.energy
        if m is not None:
            out.update({"i": n(m.import_mwh), "o": n(m.export_mwh), "n": n(m.samples), "a": n(m.anomalies)})
            if m.gap:
                out["g"] = n(m.gap)
            if m.peak_power_w is not None:
                out["p"] = n(m.peak_power_w)
        if self.hour_ms is not None:
            out["h"] = n(self.hour_ms)
        if expires_at is not None and self.readings:
            out["expires_at"] = n(expires_at)
        return out

    @classmethod
    def from_item(cls, device_id: str, item: Item) -> Minute:
        minute_ms = int(item["sk"]["S"][2:])
        readings = unpack_readings(device_id, minute_ms, item["r"]["B"]) if "r" in item else []
        energy = None
        if "n" in item:
            energy = MinuteEnergy(minute_ms, num(item, "i", 0), num(item, "o", 0), num_float(item, "p"),
                                  num(item, "n", 0), num(item, "a", 0), num(item, "g", 0))
        return cls(minute_ms, {r.ts_ms: r for r in readings}, energy, num(item, "h"), item, (len(readings), energy))


@dataclass
class Work:
    """One device's batch: minute items read once, changed in memory, written together at the end."""

    device_id: str
    minutes: dict[int, Minute] = field(default_factory=dict)
    touched: set[int] = field(default_factory=set)  # minutes whose hour rollup must be refreshed
    loaded: set[int] = field(default_factory=set)  # minutes whose item (or absence) is known
    tz_name: str | None = None
    device: Item | None = None  # the device item as read at the start of the batch (when ``device_read``)
    device_read: bool = False
    # Minute keys known to have no item beyond these (None: unknown): the table holds no minute item below
    # ``none_before`` or above ``none_after``, so scans stop there without a Query.
    none_before: int | None = None
    none_after: int | None = None
    replayed: bool = False  # some of the batch's readings were stored already (a redelivery, a replay)

    def known_empty(self, key: int) -> bool:
        return (self.none_after is not None and key > self.none_after) or (
            self.none_before is not None and key < self.none_before)


def version_condition(device: Item | None, version: int) -> dict[str, Any]:
    """Optimistic lock on the device item: the write succeeds only over the version it was computed from."""
    if device is None:
        return {"ConditionExpression": "attribute_not_exists(pk)"}
    return {"ConditionExpression": "v = :v", "ExpressionAttributeValues": {":v": n(version)}}


def _normal(item: Item) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in item.items():
        if name in ("expires_at", "v"):
            continue
        ((kind, raw),) = value.items()
        out[name] = Decimal(raw) if kind == "N" else (bytes(raw) if kind == "B" else raw)
    return out


def same(a: Item, b: Item) -> bool:
    """Equal as DynamoDB stores them (it normalises numbers: ``412.0`` comes back as ``412``)."""
    return _normal(a) == _normal(b)
