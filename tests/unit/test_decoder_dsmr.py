"""DSMR P1 v5 decoder: real telegrams with real CRCs, parsed by dsmr-parser, W/S flag in the device zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dsmr_parser.parsers import TelegramParser
from dsmr_parser.telegram_specifications import V5
from hypothesis import given
from hypothesis import strategies as st

from energymon.domain.decoders import dsmr
from energymon.errors import ConfigError, RejectedReading

DEVICES = Path(__file__).parents[1] / "events" / "devices"
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TS_MS = 1_795_813_200_000  # 2026-11-27T21:00:00Z


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC (poly 0x8005 reflected = 0xA001, init 0), as DSMR 5 specifies for the P1 telegram."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def telegram(
    *,
    timestamp: str = "261127220000W",
    crc: str | None = None,
    registers: dict[str, str | None] | None = None,
) -> bytes:
    """A DSMR 5 telegram with a correct CRC (unless ``crc`` is forced); ``registers`` override
    or (with ``None``) drop lines by OBIS code."""
    lines: dict[str, str | None] = {
        "1-3:0.2.8": "(50)",
        "0-0:1.0.0": f"({timestamp})",
        "0-0:96.1.1": "(4B384547303034303436333935353037)",
        "1-0:1.8.1": "(012345.678*kWh)",
        "1-0:1.8.2": "(009876.543*kWh)",
        "1-0:2.8.1": "(000123.456*kWh)",
        "1-0:2.8.2": "(000654.321*kWh)",
        "0-0:96.14.0": "(0002)",
        "1-0:1.7.0": "(00.412*kW)",
        "1-0:2.7.0": "(00.000*kW)",
        "1-0:32.7.0": "(229.8*V)",
        "1-0:31.7.0": "(001*A)",
        "0-1:24.2.1": f"({timestamp})(01234.567*m3)",
    }
    lines.update(registers or {})
    body = "\r\n".join(["/ISk5\\2MT382-1000", ""] + [f"{k}{v}" for k, v in lines.items() if v is not None] + ["!"])
    checksum = crc if crc is not None else f"{crc16_arc(body.encode('ascii')):04X}"
    return f"{body}{checksum}\r\n".encode("ascii")


def utc_ms(*args: int) -> int:
    return (datetime(*args, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)  # type: ignore[misc]


def test_given_a_real_v5_telegram_when_decoded_then_tariffs_are_summed_and_kwh_become_wh() -> None:
    # GIVEN the stored telegram (CRC E1A1 over CRLF lines) from a Dutch three-phase meter
    raw = (DEVICES / "dsmr_v5_telegram.txt").read_bytes()
    assert raw.endswith(b"!E1A1\r\n")
    assert crc16_arc(raw[: raw.index(b"!") + 1]) == 0xE1A1  # the test helper agrees with the file
    # WHEN decoded for the configured device
    [r] = dsmr.decode("", raw, "Europe/Amsterdam", device_id="p1-meter")
    # THEN import = 1.8.1 + 1.8.2, export = 2.8.1 + 2.8.2, power = 1.7.0 kW, 22:00W local = 21:00Z
    assert r.device_id == "p1-meter"
    assert r.ts_ms == TS_MS
    assert r.energy_wh == 22_222_221.0
    assert r.export_wh == 777_777.0
    assert r.power_w == 412.0
    assert r.voltage_v == 229.8
    assert r.current_a == 2.0  # L1 + L2 + L3


def test_given_a_meter_exporting_when_decoded_then_power_is_negative_net_power() -> None:
    raw = telegram(registers={"1-0:1.7.0": "(00.000*kW)", "1-0:2.7.0": "(01.500*kW)"})
    [r] = dsmr.decode("", raw, AMSTERDAM, device_id="p1")
    assert r.power_w == -1500.0


def test_given_a_meter_with_only_the_total_register_when_decoded_then_it_is_used() -> None:
    raw = telegram(registers={"1-0:1.8.1": None, "1-0:1.8.2": None, "1-0:1.8.0": "(022222.221*kWh)"})
    [r] = dsmr.decode("", raw, AMSTERDAM, device_id="p1")
    assert r.energy_wh == 22_222_221.0


@pytest.mark.parametrize(
    ("stamp", "zone", "utc"),
    [
        ("260115120000W", "Europe/Amsterdam", (2026, 1, 15, 11, 0, 0)),
        ("260701120000S", "Europe/Amsterdam", (2026, 7, 1, 10, 0, 0)),
        # autumn 2026-10-25: 02:30 happens twice; the flag tells which
        ("261025023000S", "Europe/Amsterdam", (2026, 10, 25, 0, 30, 0)),
        ("261025023000W", "Europe/Amsterdam", (2026, 10, 25, 1, 30, 0)),
        # spring 2026-03-29: the last winter second and the first summer second
        ("260329015959W", "Europe/Amsterdam", (2026, 3, 29, 0, 59, 59)),
        ("260329030000S", "Europe/Amsterdam", (2026, 3, 29, 1, 0, 0)),
        # the zone comes from configuration, not from the library's Amsterdam default
        ("261025013000S", "Europe/London", (2026, 10, 25, 0, 30, 0)),
        ("261025013000W", "Europe/London", (2026, 10, 25, 1, 30, 0)),
        ("261127220000W", "UTC", (2026, 11, 27, 22, 0, 0)),
    ],
)
def test_given_a_ws_flag_when_decoded_then_it_selects_the_right_utc_offset_for_the_zone(
    stamp: str, zone: str, utc: tuple[int, ...]
) -> None:
    [r] = dsmr.decode("", telegram(timestamp=stamp), zone, device_id="p1")
    assert r.ts_ms == utc_ms(*utc)


def test_given_the_autumn_repeated_hour_when_telegrams_ten_seconds_apart_then_time_moves_forward() -> None:
    first = dsmr.decode("", telegram(timestamp="261025025959S"), AMSTERDAM, device_id="p1")[0]
    second = dsmr.decode("", telegram(timestamp="261025020009W"), AMSTERDAM, device_id="p1")[0]
    assert second.ts_ms - first.ts_ms == 10_000


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2098, 12, 31), timezones=st.just(UTC)))
def test_any_instant_written_as_an_amsterdam_p1_stamp_reads_back_and_agrees_with_dsmr_parser(
    instant: datetime,
) -> None:
    # GIVEN any instant, written as a meter in Amsterdam would: local wall time + W/S flag
    instant = instant.replace(microsecond=0)
    local = instant.astimezone(AMSTERDAM)
    stamp = local.strftime("%y%m%d%H%M%S") + ("S" if local.dst() else "W")
    # WHEN read back through our zone-aware parser
    ms = dsmr.p1_timestamp_ms(stamp, AMSTERDAM)
    # THEN it is the same instant, and dsmr-parser's own (Amsterdam-only) reading agrees
    assert ms == utc_ms(*instant.timetuple()[:6])
    if local.year >= 2069:
        return  # dsmr-parser uses strptime's %y, which reads 69..99 as 1969..1999
    lib = TelegramParser(V5).parse(telegram(timestamp=stamp).decode("ascii")).P1_MESSAGE_TIMESTAMP.value
    assert int(lib.timestamp() * 1000) == ms


@pytest.mark.parametrize(
    ("raw", "code", "reason_part"),
    [
        (telegram(crc="0000"), "crc_mismatch", "CRC"),
        (
            telegram().replace(b"012345.678", b"012345.679"),  # one digit flipped in transit
            "crc_mismatch",
            "does not match",
        ),
        (telegram().split(b"!")[0], "incomplete_telegram", "incomplete"),
        (b"garbage\r\n!1234\r\n", "schema", "must start with '/'"),
        # a byte changed after the CRC was computed: refused whether or not it is ASCII
        (telegram().replace(b"ISk5", "ISk\u00e9".encode()), "crc_mismatch", "does not match"),
        (telegram(registers={"1-0:1.8.1": None, "1-0:1.8.2": None}), "no_energy_register", "1-0:1.8.1"),
        (telegram(registers={"1-0:1.8.1": "(abc*kWh)"}), "schema", "is malformed"),
        (telegram(registers={"0-0:1.0.0": None}), "bad_timestamp", "no 0-0:1.0.0"),
        (telegram(timestamp="261327220000W"), "bad_timestamp", "not a valid date"),
        (telegram(timestamp="261127220000X"), "bad_timestamp", "followed by W or S"),
        (telegram(timestamp="260115120000S"), "bad_timestamp", "says summer time"),
        (telegram(timestamp="260701120000W"), "bad_timestamp", "says winter time"),
        (telegram(timestamp="000101000000W"), "implausible", "clock is not set"),
        (telegram(registers={"1-0:1.7.0": "(99999.999*kW)"}), "implausible", "implausible for a home"),
    ],
)
def test_given_a_bad_telegram_when_decoded_then_it_is_rejected_with_a_readable_reason(
    raw: bytes, code: str, reason_part: str
) -> None:
    with pytest.raises(RejectedReading) as err:
        dsmr.decode("", raw, AMSTERDAM, device_id="p1")
    assert err.value.code == code
    assert reason_part in err.value.reason


def test_given_no_configured_device_id_when_decoding_then_it_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="device_id"):
        dsmr.decode("", telegram(), AMSTERDAM)
