"""DSMR P1 telegrams (DSMR 2.2 to 5, Fluvius, ESMR/Luxembourg, Austrian and Irish P1, and IEC 62056-21 D0
meters such as the EasyMeter Q3D), parsed here register by register.

A telegram runs from ``/`` (the header line) to a line starting with ``!``. From DSMR 4 on, ``!`` is
followed by a CRC-16/ARC over every byte from ``/`` up to and including ``!``; DSMR 2.2/3 and D0 meters
send no CRC (and often no ``0-0:1.0.0`` timestamp) by design. Rules:

* **CRC.** Four hex digits after ``!``: checked over the *bytes*, so a text register holding a byte
  that is not ASCII (0xFF, a Latin-1 ``m³``, gateway padding) is fine when the CRC vouches for it. No
  CRC: accepted only from a telegram that does not declare ``1-3:0.2.8`` version 4 or later (a v4/v5
  telegram without its CRC has been cut). Bytes after the ``!`` line (D0 padding) are not part of it.
* **Units.** Every register carries its unit and it is applied: ``*kWh``/``*Wh`` for counters,
  ``*kW``/``*W`` for power (Austrian and EasyMeter meters report Wh and W). A register without a unit
  is in DSMR's unit (kWh, kW); any other unit is refused, naming what was expected and what was found.
* **Import** ``1-0:1.8.0`` (the meter's own total) or else the sum of the tariff registers ``1-0:1.8.1``,
  ``1-0:1.8.2``, ...; **export** likewise from ``1-0:2.8.0`` or ``1-0:2.8.1`` + ``1-0:2.8.2`` + ...
* **Power** ``1-0:1.7.0`` minus ``1-0:2.7.0`` (net: negative while exporting, like Shelly's
  ``total_act_power``); ``1-0:32.7.0`` -> voltage_v (L1); ``1-0:31.7.0``/``51.7.0``/``71.7.0`` -> current_a (sum).
* **Time** ``0-0:1.0.0(YYMMDDhhmmssW|S)`` in the device's zone, see :func:`p1_timestamp_ms`; a telegram
  without it (pre-v4 only) takes its receive time, ``now_ms``.
* D0 codes may carry a ``*255`` suffix (``1-0:1.8.0*255``): it is the same register.

Telegrams carry no usable device id (the equipment identifier is a meter serial, not our configured
id), so the caller passes ``device_id``; the topic is not used.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from energymon.domain.decoders import _common as c
from energymon.domain.reading import MAX_MESSAGE_BYTES
from energymon.errors import ConfigError, RejectedReading

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from energymon.domain.reading import Reading

__all__ = ["TOPIC_FILTER", "crc16_arc", "decode", "p1_timestamp_ms"]

# P1 telegrams are read from the meter's serial port by the agent, not subscribed to.
TOPIC_FILTER: str | None = None

_P1_TS = re.compile(r"(\d{12})([WS])?")
# One register line: OBIS code (optionally *255), then one or more (value) groups. Bytes, not text:
# lines we do not read may hold anything.
_REGISTER = re.compile(rb"(?m)^(\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3})(?:\*\d{1,3})?((?:\([^()\r\n]*\))+)")
_VALUE = re.compile(r"(-?\d+(?:\.\d+)?)(?:\*([A-Za-z0-9]+))?")
_END = re.compile(rb"\r?\n!([0-9A-Fa-f]{4})?")
_FIRST_CRC_VERSION = 40  # 1-3:0.2.8 from DSMR 4.0 on; those telegrams always end with a CRC

_CRC_TABLE = []
for _byte in range(256):
    _crc = _byte
    for _ in range(8):
        _crc = (_crc >> 1) ^ 0xA001 if _crc & 1 else _crc >> 1
    _CRC_TABLE.append(_crc)


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC (poly 0x8005 reflected, init 0, no final xor): what DSMR 4+ puts after ``!``."""
    crc = 0
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def _summer_offset(zone: ZoneInfo, year: int) -> timedelta | None:
    """The zone's summer-time UTC offset that year: the larger of its January and July offsets.

    Not ``dst() > 0``: Europe/Dublin's rules declare winter (GMT) the "DST" period with a negative
    save, so the summer flag ``S`` goes with the larger offset (IST, +01:00) whatever tzdata calls it.
    ``None``: the zone keeps one offset all year, so every telegram there is on winter time.
    """
    jan = datetime(year, 1, 1, 12, tzinfo=zone).utcoffset()
    jul = datetime(year, 7, 1, 12, tzinfo=zone).utcoffset()
    if jan is None or jul is None or jan == jul:
        return None
    return max(jan, jul)


def p1_timestamp_ms(raw: str, tz: ZoneInfo | str) -> int:
    """``YYMMDDhhmmssW|S`` in ``tz`` to epoch ms.

    The flag says which offset the wall-clock time is in: ``S`` summer time, ``W`` winter time. That
    settles the repeated autumn hour (02:30S is the first 02:30, 02:30W the second). A flag the zone
    cannot have at that time (``S`` in January in Amsterdam, ``W`` in July in Dublin) means the meter
    or the configured zone is wrong: rejected rather than guessed. Without a flag (pre-v4 meters) the
    first occurrence is taken.
    """
    zone = c.zone(tz)
    match = _P1_TS.fullmatch(raw)
    if match is None:
        raise RejectedReading(f"0-0:1.0.0 timestamp {raw!r} is not YYMMDDhhmmss followed by W or S", "bad_timestamp")
    digits = match[1]
    try:
        # YY is 20YY: strptime's %y would read 69..99 as 1969..1999.
        yy, mo, dd, hh, mi, ss = (int(digits[i : i + 2]) for i in range(0, 12, 2))
        naive = datetime(2000 + yy, mo, dd, hh, mi, ss)  # noqa: DTZ001 - zone applied below
    except ValueError:
        raise RejectedReading(f"0-0:1.0.0 timestamp {raw!r} is not a valid date and time", "bad_timestamp") from None
    flag = match[2]
    if flag is None:
        return c.local_to_epoch_ms(naive, zone)
    want_summer = flag == "S"
    summer = _summer_offset(zone, naive.year)
    for fold in (0, 1):
        aware = naive.replace(tzinfo=zone, fold=fold)
        if (summer is not None and aware.utcoffset() == summer) == want_summer:
            return c.aware_to_epoch_ms(aware)
    season, other = ("summer", "winter") if want_summer else ("winter", "summer")
    raise RejectedReading(
        f"0-0:1.0.0 timestamp {raw!r} says {season} time ({flag}), but {zone.key} is on {other} time then "
        "(meter clock or configured zone is wrong)",
        "bad_timestamp",
    )


def _registers(payload: bytes) -> tuple[re.Match[bytes], dict[str, list[str]]]:
    """The ``!`` line that ends the telegram and the registers before it, by OBIS code (first wins)."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise RejectedReading(
            f"P1 telegram is {len(payload)} bytes, over the {MAX_MESSAGE_BYTES}-byte limit", "too_large"
        )
    if not payload.startswith(b"/"):
        found = payload[:12].decode("latin-1")
        raise RejectedReading(f"P1 telegram must start with '/' (the meter header line), found {found!r}", "schema")
    end = _END.search(payload)
    if end is None:
        raise RejectedReading(
            "P1 telegram is incomplete: expected a line starting with '!' (the end of the telegram), found none",
            "incomplete_telegram",
        )
    registers: dict[str, list[str]] = {}
    for match in _REGISTER.finditer(payload, 0, end.start(0) + 1):
        code = match[1].decode("ascii")
        groups = match[2][1:-1].split(b")(")
        # Register values we read are ASCII by grammar; text registers may hold any byte: kept as Latin-1.
        registers.setdefault(code, [g.decode("latin-1") for g in groups])
    return end, registers


def _check_integrity(payload: bytes, end: re.Match[bytes], registers: dict[str, list[str]]) -> None:
    version = _version(registers)
    if end[1] is None:
        if version is not None and version >= _FIRST_CRC_VERSION:
            raise RejectedReading(
                f"P1 telegram is incomplete: it declares DSMR version {version / 10:g} (1-3:0.2.8), whose "
                "telegrams end with '!' and a 4-digit CRC, but found no CRC", "incomplete_telegram")
        return
    checked = payload[: end.start(1)]
    expected = int(end[1], 16)
    actual = crc16_arc(checked)
    if actual != expected:
        raise RejectedReading(
            f"P1 telegram CRC does not match: the telegram says {end[1].decode()}, its bytes give {actual:04X}",
            "crc_mismatch",
        )


def _version(registers: dict[str, list[str]]) -> int | None:
    raw = registers.get("1-3:0.2.8") or registers.get("0-0:96.1.4")  # 0-0:96.1.4: Belgian/Luxembourg version
    if not raw or not raw[0].isdigit():
        return None
    return int(raw[0][:2])


_UNITS = {
    "energy": {"kWh": Decimal(1000), "Wh": Decimal(1), None: Decimal(1000)},
    "power": {"kW": Decimal(1000), "W": Decimal(1), None: Decimal(1000)},
    "voltage": {"V": Decimal(1), None: Decimal(1)},
    "current": {"A": Decimal(1), None: Decimal(1)},
}


def _value(registers: dict[str, list[str]], code: str, kind: str) -> Decimal | None:
    """Register ``code`` in the base unit of ``kind`` (Wh, W, V, A), or ``None`` when absent."""
    groups = registers.get(code)
    if groups is None:
        return None
    raw = groups[-1]
    match = _VALUE.fullmatch(raw)
    if match is None:
        raise RejectedReading(f"P1 register {code} value {raw!r} is malformed: expected a number and unit", "schema")
    factors = _UNITS[kind]
    unit = match[2]
    if unit not in factors:
        expected = " or ".join(u for u in factors if u is not None)
        raise RejectedReading(f"P1 register {code} is in {unit!r}: expected {expected}", "schema")
    try:
        return Decimal(match[1]) * factors[unit]
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimal numbers
        raise RejectedReading(f"P1 register {code} value {raw!r} is not a number", "schema") from None


def _counter(registers: dict[str, list[str]], quantity: str) -> Decimal | None:
    """``1-0:<q>.8.0`` when the meter sends its total, else the sum of its tariff registers ``<q>.8.1..9``."""
    total = _value(registers, f"1-0:{quantity}.8.0", "energy")
    if total is not None:
        return total
    tariffs = [v for t in range(1, 10) if (v := _value(registers, f"1-0:{quantity}.8.{t}", "energy")) is not None]
    return sum(tariffs, Decimal(0)) if tariffs else None


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


_LABELS = c.Labels(power="1-0:1.7.0 power", energy="1-0:1.8.x import", export="1-0:2.8.x export")


def _timestamp(registers: dict[str, list[str]], now_ms: int | None, zone: ZoneInfo) -> int:
    stamp = registers.get("0-0:1.0.0")
    if stamp is not None:
        return c.check_ts(p1_timestamp_ms(stamp[0], zone), stamp[0], now_ms)
    version = _version(registers)
    if version is not None and version >= _FIRST_CRC_VERSION:
        raise RejectedReading(
            f"P1 telegram has no 0-0:1.0.0 timestamp, which DSMR version {version / 10:g} telegrams always carry",
            "bad_timestamp",
        )
    if now_ms is None:
        raise RejectedReading(
            "P1 telegram has no 0-0:1.0.0 timestamp (DSMR 2.2/3, D0) and no receive time was given", "bad_timestamp"
        )
    return now_ms


@c.decoder
def decode(msg: c.Message) -> list[Reading]:
    """Decode one P1 telegram into one reading for the configured ``device_id``."""
    device_id = msg.device_id
    if device_id is None:
        raise ConfigError("device_id: a DSMR P1 meter needs a configured device id (telegrams carry none)")
    c.check_device_id(device_id, "configuration")
    end, registers = _registers(msg.payload)
    _check_integrity(msg.payload, end, registers)
    ts_ms = _timestamp(registers, msg.now_ms, msg.zone)

    imported = _counter(registers, "1")
    if imported is None:
        found = ", ".join(sorted(registers)) or "no registers"
        raise RejectedReading(
            f"P1 telegram has no import register: expected 1-0:1.8.0 or 1-0:1.8.1/1-0:1.8.2, found {found}",
            "no_energy_register",
        )
    exported = _counter(registers, "2")
    power_in = _value(registers, "1-0:1.7.0", "power")
    power_out = _value(registers, "1-0:2.7.0", "power")
    power_w = None if power_in is None else power_in - (power_out or Decimal(0))
    currents = [v for code in ("1-0:31.7.0", "1-0:51.7.0", "1-0:71.7.0")
                if (v := _value(registers, code, "current")) is not None]
    return c.checked_reading(
        device_id,
        ts_ms,
        _LABELS,
        power_w=_float(power_w),
        energy_wh=_float(imported),
        export_wh=_float(exported),
        voltage_v=_float(_value(registers, "1-0:32.7.0", "voltage")),
        current_a=_float(sum(currents, Decimal(0))) if currents else None,
    )
