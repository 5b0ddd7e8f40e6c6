"""DSMR P1 (v5) telegrams, parsed and CRC-checked with ``dsmr-parser``.

A telegram is ASCII, lines ending ``\\r\\n``, from ``/`` to ``!<CRC16>`` (CRC-16/ARC over
everything from ``/`` up to and including ``!``). Read here:

* ``1-0:1.8.1`` + ``1-0:1.8.2`` (kWh, tariff 1 + 2) -> energy_wh (falls back to the
  ``1-0:1.8.0`` total register on meters that send only that);
* ``1-0:2.8.1`` + ``1-0:2.8.2`` (kWh) -> export_wh;
* ``1-0:1.7.0`` (kW, import) -> power_w, minus ``1-0:2.7.0`` (kW, export) when present, so
  power_w is *net* active power, positive while importing and negative while exporting:
  the same sign convention as Shelly's ``total_act_power``. A P1 meter never reports both
  non-zero at once, so while importing this is exactly ``1.7.0 * 1000``;
* ``1-0:32.7.0`` -> voltage_v (phase L1); ``1-0:31.7.0``/``51.7.0``/``71.7.0`` -> current_a (sum);
* ``0-0:1.0.0(YYMMDDhhmmssW|S)`` -> ts_ms, see :func:`p1_timestamp_ms`.

Why the timestamp is not taken from ``dsmr-parser``: its ``timestamp`` value type
localises in a hard-coded Europe/Amsterdam zone (right for Dutch meters, wrong for a
configured Belgian/Luxembourg device zone in principle) and silently ignores a W/S flag
that contradicts the zone. We have the parser hand us the raw value (a copy of its V5
specification with a ``str`` value parser for that one object) and resolve it in the
device's zone with the flag. For Europe/Amsterdam both agree; the tests check that.

Telegrams carry no usable device id (the equipment identifier is a meter serial, not our
configured id), so the caller passes ``device_id``; the topic is not used.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from dsmr_parser import obis_references as obis
from dsmr_parser.exceptions import InvalidChecksumError, ParseError
from dsmr_parser.parsers import CosemParser, TelegramParser, ValueParser
from dsmr_parser.telegram_specifications import V5

from energymon.domain.decoders import _common as c
from energymon.domain.reading import MAX_MESSAGE_BYTES
from energymon.errors import ConfigError, RejectedReading

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from energymon.domain.reading import Reading

__all__ = ["TOPIC_FILTER", "decode", "p1_timestamp_ms"]

# P1 telegrams are read from the meter's serial port by the agent, not subscribed to.
TOPIC_FILTER: str | None = None

_SPEC: dict[str, Any] = {
    **V5,
    "objects": [
        {**o, "value_parser": CosemParser(ValueParser(str))} if o["obis_reference"] == obis.P1_MESSAGE_TIMESTAMP else o
        for o in V5["objects"]
    ],
}
_PARSER = TelegramParser(_SPEC, apply_checksum_validation=True)
_P1_TS = re.compile(r"(\d{12})([WS])?")


def p1_timestamp_ms(raw: str, tz: ZoneInfo | str) -> int:
    """``YYMMDDhhmmssW|S`` in ``tz`` to epoch ms.

    The flag says which offset the wall-clock time is in: ``S`` summer (DST) time, ``W``
    winter (standard) time. That settles the repeated autumn hour (02:30S is the first
    02:30, 02:30W the second). A flag the zone cannot have at that time (``S`` in January)
    means the meter or the configured zone is wrong: rejected rather than guessed. Without
    a flag (not v5-conformant) the first occurrence is taken.
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
    want_dst = flag == "S"
    for fold in (0, 1):
        aware = naive.replace(tzinfo=zone, fold=fold)
        if bool(aware.dst()) == want_dst:
            return c.aware_to_epoch_ms(aware)
    season = "summer" if want_dst else "winter"
    raise RejectedReading(
        f"0-0:1.0.0 timestamp {raw!r} says {season} time, but {zone.key} is not on {season} time then "
        "(meter clock or configured zone is wrong)",
        "bad_timestamp",
    )


def _value(telegram: Any, name: str) -> Decimal | None:
    obj = getattr(telegram, name, None)
    if obj is None:
        return None
    value = obj.value
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite():
        raise RejectedReading(f"{name} value {value!r} is not a number", "schema")
    return value


def _sum(telegram: Any, names: tuple[str, ...]) -> Decimal | None:
    values = [v for v in (_value(telegram, n) for n in names) if v is not None]
    return sum(values, Decimal(0)) if values else None


def _parse(payload: bytes) -> Any:
    if len(payload) > MAX_MESSAGE_BYTES:
        raise RejectedReading(
            f"P1 telegram is {len(payload)} bytes, over the {MAX_MESSAGE_BYTES}-byte limit", "too_large"
        )
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError as exc:
        raise RejectedReading(f"P1 telegram is not ASCII (byte {exc.start})", "not_ascii") from None
    if not text.startswith("/"):
        raise RejectedReading("P1 telegram must start with '/' (the meter header line)", "schema")
    try:
        return _PARSER.parse(text, throw_ex=True)
    except InvalidChecksumError as exc:
        raise RejectedReading(f"P1 telegram CRC does not match: {exc}", "crc_mismatch") from None
    except ParseError as exc:
        detail = exc.args[0] % exc.args[1:] if len(exc.args) > 1 else str(exc)
        code = "incomplete_telegram" if "incomplete" in detail else "schema"
        raise RejectedReading(f"P1 telegram could not be parsed: {detail}", code) from None
    except (InvalidOperation, ValueError) as exc:
        raise RejectedReading(f"P1 telegram has a malformed value: {exc!r}", "schema") from None


def _wh(kwh: Decimal | None) -> float | None:
    return None if kwh is None else float(kwh * 1000)


_LABELS = c.Labels(power="1-0:1.7.0 power", energy="1-0:1.8.x import", export="1-0:2.8.x export")


@c.decoder
def decode(msg: c.Message) -> list[Reading]:
    """Decode one P1 telegram into one reading for the configured ``device_id``.

    The topic is not used: telegrams come from a serial port.
    """
    device_id = msg.device_id
    if device_id is None:
        raise ConfigError("device_id: a DSMR P1 meter needs a configured device id (telegrams carry none)")
    c.check_device_id(device_id, "configuration")
    telegram = _parse(msg.payload)

    stamp = getattr(telegram, "P1_MESSAGE_TIMESTAMP", None)
    if stamp is None or not isinstance(stamp.value, str):
        raise RejectedReading("P1 telegram has no 0-0:1.0.0 timestamp", "bad_timestamp")
    ts_ms = c.check_ts(p1_timestamp_ms(stamp.value, msg.zone), stamp.value, msg.now_ms)

    imported = _sum(telegram, ("ELECTRICITY_USED_TARIFF_1", "ELECTRICITY_USED_TARIFF_2"))
    if imported is None:
        imported = _value(telegram, "ELECTRICITY_IMPORTED_TOTAL")
    if imported is None:
        raise RejectedReading("P1 telegram has no import register (1-0:1.8.1 / 1-0:1.8.2)", "no_energy_register")
    exported = _sum(telegram, ("ELECTRICITY_DELIVERED_TARIFF_1", "ELECTRICITY_DELIVERED_TARIFF_2"))

    power_in = _value(telegram, "CURRENT_ELECTRICITY_USAGE")
    power_out = _value(telegram, "CURRENT_ELECTRICITY_DELIVERY")
    power_kw = None if power_in is None else power_in - (power_out or Decimal(0))
    voltage = _value(telegram, "INSTANTANEOUS_VOLTAGE_L1")
    current = _sum(telegram, ("INSTANTANEOUS_CURRENT_L1", "INSTANTANEOUS_CURRENT_L2", "INSTANTANEOUS_CURRENT_L3"))
    return c.checked_reading(
        device_id,
        ts_ms,
        _LABELS,
        power_w=_wh(power_kw),
        energy_wh=_wh(imported),
        export_wh=_wh(exported),
        voltage_v=None if voltage is None else float(voltage),
        current_a=None if current is None else float(current),
    )
