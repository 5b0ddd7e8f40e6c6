"""Real P1 / D0 telegrams from other meters than the Dutch DSMR 5 one: units, export fallback, older
protocols without CRC or timestamp, bytes that are not ASCII, and zones whose DST is negative.

Fixture telegrams (tests/events/devices/p1_*.txt) are byte-for-byte the example telegrams of the
dsmr_parser project (github.com/ndokter/dsmr_parser, test/example_telegrams.py); each test names the
constant it came from. Expected values are worked out by hand in each test from the register lines.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from energymon.domain.decoders import dsmr
from energymon.errors import RejectedReading

DEVICES = Path(__file__).parents[1] / "events" / "devices"
NOW_MS = 1_795_813_200_000  # the receive time, used by telegrams that carry no timestamp


def load(name: str) -> bytes:
    return (DEVICES / name).read_bytes()


def utc_ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def with_crc(body: bytes) -> bytes:
    """``body`` runs from '/' to '!' inclusive; appends the CRC DSMR 4+ puts there."""
    return body + f"{dsmr.crc16_arc(body):04X}\r\n".encode()


def test_austrian_meter_in_wh_and_w_is_not_stored_1000_times_too_large() -> None:
    # dsmr_parser TELEGRAM_SAGEMCOM_T210_D_R (Austria): 1-0:1.8.0(006545766*Wh), 1-0:2.8.0(000000058*Wh),
    # 1-0:1.7.0(000000286*W), 1-0:2.7.0(000000000*W), 0-0:1.0.0(221006155014S) in Vienna (CEST, +02:00).
    [r] = dsmr.decode("", load("p1_austria_sagemcom_t210dr_wh.txt"), "Europe/Vienna", device_id="at-1")
    assert r.energy_wh == 6_545_766.0  # Wh as sent; the tariffs 5017120 + 1528646 agree
    assert r.export_wh == 58.0  # 1-0:2.8.0: the total register is read first
    assert r.power_w == 286.0
    assert r.ts_ms == utc_ms(2022, 10, 6, 13, 50, 14)


def test_dsmr22_without_crc_or_timestamp_decodes_at_its_receive_time() -> None:
    # dsmr_parser TELEGRAM_V2_2: ends with a bare "!", no 0-0:1.0.0; 1.8.1 = 1.8.2 = 00001.001 kWh,
    # 2.8.1 = 2.8.2 = 00001.001 kWh, 1.7.0 = 0001.01 kW, 2.7.0 = 0000.00 kW.
    [r] = dsmr.decode("", load("p1_dsmr22_iskra_mt382.txt"), "Europe/Amsterdam", device_id="nl-22", now_ms=NOW_MS)
    assert (r.energy_wh, r.export_wh, r.power_w, r.ts_ms) == (2002.0, 2002.0, 1010.0, NOW_MS)


def test_dsmr3_without_crc_decodes() -> None:
    # dsmr_parser TELEGRAM_V3: four counters of 12345.678 kWh, 1.7.0 = 001.19 kW.
    [r] = dsmr.decode("", load("p1_dsmr3_iskra_mt382.txt"), "Europe/Amsterdam", device_id="nl-3", now_ms=NOW_MS)
    assert (r.energy_wh, r.export_wh, r.power_w) == (24_691_356.0, 24_691_356.0, 1190.0)


def test_dsmr5_example_with_crc_decodes() -> None:
    # dsmr_parser TELEGRAM_V5 (CRC 6EEE): 4.426 + 2.399 kWh in, 2.444 + 0 kWh out, 0.244 kW,
    # 170102192002W = 2017-01-02 19:20:02 CET = 18:20:02Z; 230.0 V on L1; 0.48 + 0.44 + 0.86 A.
    [r] = dsmr.decode("", load("p1_dsmr5_iskra_mt382.txt"), "Europe/Amsterdam", device_id="nl-5")
    assert (r.energy_wh, r.export_wh, r.power_w) == (6825.0, 2444.0, 244.0)
    assert r.ts_ms == utc_ms(2017, 1, 2, 18, 20, 2)
    assert (r.voltage_v, r.current_a) == (230.0, 1.78)


@pytest.mark.parametrize(
    ("fixture", "energy_wh", "export_wh", "power_w"),
    [
        # dsmr_parser TELEGRAM_ESY5Q3DB1024_V304: D0 with "*255" codes, 1.8.0 = 00052185.7825309 kWh,
        # export only as 2.8.0 = 00019949.3221493 kWh, 1.7.0 = 002124.86 W; 0xFF padding after "!".
        ("p1_d0_easymeter_q3db_padded.txt", 52_185_782.5309, 19_949_322.1493, 2124.86),
        # dsmr_parser TELEGRAM_ESY5Q3DA1004_V304: 1.8.0 = 00032549.5061662 kWh, 1.7.0 = 001688.21 W.
        ("p1_d0_easymeter_q3da.txt", 32_549_506.1662, None, 1688.21),
    ],
)
def test_easymeter_d0_telegrams_decode_with_units_and_the_export_total(
    fixture: str, energy_wh: float, export_wh: float | None, power_w: float
) -> None:
    [r] = dsmr.decode("", load(fixture), "Europe/Berlin", device_id="de-1", now_ms=NOW_MS)
    assert (r.energy_wh, r.export_wh, r.power_w, r.ts_ms) == (energy_wh, export_wh, power_w, NOW_MS)


def test_hungarian_meter_exporting_reads_its_total_registers_and_net_power() -> None:
    # dsmr_parser TELEGRAM_V5_EON_HU: 1.8.0 = 173.640 kWh (= 47.719 + 125.921), 2.8.0 = 627.177 kWh,
    # 1.7.0 = 0, 2.7.0 = 02.601 kW, 240.4 V, 3 + 4 + 3 A; 230724150730S in Budapest (CEST) = 13:07:30Z.
    [r] = dsmr.decode("", load("p1_hungary_eon_sagemcom.txt"), "Europe/Budapest", device_id="hu-1")
    assert (r.energy_wh, r.export_wh, r.power_w) == (173_640.0, 627_177.0, -2601.0)
    assert (r.voltage_v, r.current_a) == (240.4, 10.0)
    assert r.ts_ms == utc_ms(2023, 7, 24, 13, 7, 30)


def _v5_body() -> bytes:
    return load("p1_dsmr5_iskra_mt382.txt").split(b"!")[0] + b"!"


def test_a_non_ascii_byte_the_crc_vouches_for_is_decoded() -> None:
    # A text register holding 0xFF and a Latin-1 "m³" (0xB3), as gateways and some meters send;
    # the CRC is computed over those bytes, so the telegram is intact.
    body = _v5_body().replace(b"0-0:96.13.0()", b"0-0:96.13.0(\xffGas m\xb3)")
    [r] = dsmr.decode("", with_crc(body), "Europe/Amsterdam", device_id="nl-5")
    assert (r.energy_wh, r.export_wh, r.power_w) == (6825.0, 2444.0, 244.0)


def test_a_non_ascii_byte_the_crc_does_not_vouch_for_is_a_crc_mismatch() -> None:
    raw = load("p1_dsmr5_iskra_mt382.txt").replace(b"0-0:96.13.0()", b"0-0:96.13.0(\xff)")
    with pytest.raises(RejectedReading) as err:
        dsmr.decode("", raw, "Europe/Amsterdam", device_id="nl-5")
    assert err.value.code == "crc_mismatch"
    assert "the telegram says 6EEE" in err.value.reason


@pytest.mark.parametrize(
    ("change", "code", "reason_part"),
    [
        # a v5 telegram (1-3:0.2.8(50)) without its CRC has been cut, not sent by an old meter
        (lambda b: b + b"\r\n", "incomplete_telegram",
         "declares DSMR version 5"),
        (lambda b: with_crc(b.replace(b"(000004.426*kWh)", b"(000004.426*m3)")), "schema",
         "1-0:1.8.1 is in 'm3': expected kWh or Wh"),
        (lambda b: with_crc(b.replace(b"(00.244*kW)", b"(00.244*kvar)")), "schema", "expected kW or W"),
        (lambda b: with_crc(b.replace(b"1-0:1.8.1(000004.426*kWh)\r\n1-0:1.8.2(000002.399*kWh)\r\n", b"")),
         "no_energy_register", "expected 1-0:1.8.0 or 1-0:1.8.1/1-0:1.8.2, found"),
    ],
)
def test_rejections_name_what_was_expected_and_what_was_found(change, code: str, reason_part: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RejectedReading) as err:
        dsmr.decode("", change(_v5_body()), "Europe/Amsterdam", device_id="nl-5")
    assert err.value.code == code
    assert reason_part in err.value.reason


def test_an_old_telegram_without_timestamp_needs_a_receive_time() -> None:
    with pytest.raises(RejectedReading, match="no 0-0:1.0.0 timestamp .* no receive time") as err:
        dsmr.decode("", load("p1_dsmr22_iskra_mt382.txt"), "Europe/Amsterdam", device_id="nl-22")
    assert err.value.code == "bad_timestamp"


DUBLIN = ZoneInfo("Europe/Dublin")


@pytest.mark.parametrize(
    ("stamp", "utc"),
    [
        ("260115120000W", (2026, 1, 15, 12, 0, 0)),  # January: GMT (+00:00), which tzdata calls "DST"
        ("260715120000S", (2026, 7, 15, 11, 0, 0)),  # July: IST (+01:00), the summer offset
        ("261025013000S", (2026, 10, 25, 0, 30, 0)),  # the repeated hour, first time round (IST)
        ("261025013000W", (2026, 10, 25, 1, 30, 0)),  # the repeated hour, second time round (GMT)
    ],
)
def test_a_correct_irish_telegram_passes_despite_negative_dst(stamp: str, utc: tuple[int, ...]) -> None:
    # Europe/Dublin's rules give winter a save of -1 h (dst() != 0 in January): the flag must be read
    # as what it means (S = the summer offset), not as "dst() > 0".
    assert dsmr.p1_timestamp_ms(stamp, DUBLIN) == utc_ms(*utc)


@pytest.mark.parametrize("stamp", ["260115120000S", "260715120000W"])
def test_a_wrong_irish_flag_is_refused(stamp: str) -> None:
    with pytest.raises(RejectedReading, match="Europe/Dublin is on") as err:
        dsmr.p1_timestamp_ms(stamp, DUBLIN)
    assert err.value.code == "bad_timestamp"


def test_a_zone_without_dst_takes_w_and_refuses_s() -> None:
    assert dsmr.p1_timestamp_ms("260715120000W", "UTC") == utc_ms(2026, 7, 15, 12, 0, 0)
    with pytest.raises(RejectedReading, match="says summer time"):
        dsmr.p1_timestamp_ms("260715120000S", "UTC")
