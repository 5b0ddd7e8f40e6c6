"""Tasmota payloads seen on real devices: channel/phase arrays, ExportActive, TotalTariff, SML meter
scripts with default and configured names. Each payload's source is cited; expected values by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from energymon.domain.decoders import tasmota
from energymon.domain.decoders.tasmota import SmlMapping
from energymon.errors import ConfigError, RejectedReading

BERLIN = "Europe/Berlin"

# arendst/Tasmota issue #17671 (a Modbus three-phase meter, Tasmota 12.x): Total is one value for the
# meter, ExportActive/Power/Voltage/Current one per phase.
MODBUS_3PHASE = (
    b'{"Time":"2023-01-10T13:03:11","ENERGY":{"TotalStartTime":"2023-01-10T00:00:00","Total":16647.945,'
    b'"Yesterday":26.425,"Today":7.978,"TodaySumImport":0.000,"TodaySumExport":0.000,'
    b'"ExportActive":[1508.369,1929.488,1696.624],"Period":[0.000,0.000,0.000],"Power":[-136.495,0.000,-78.478],'
    b'"ApparentPower":[153.005,10.484,80.817],"ReactivePower":[-68.949,-9.750,-27.549],"Factor":[-0.89,-0.24,-0.93],'
    b'"Frequency":49.900,"Voltage":[230.750,230.456,230.327],"Current":[0.675,0.046,0.366],'
    b'"ImportActive":[4392.588,2795.954,4301.033]}}'
)
# arendst/Tasmota issue #17178 (a Shelly 3EM running Tasmota 12.1.1, one phase connected).
SHELLY_3EM_TASMOTA = (
    b'{"Time":"2022-11-24T13:04:03","ENERGY":{"TotalStartTime":"2022-11-22T13:42:58","Total":0.00627,'
    b'"Yesterday":-0.00006,"Today":0.00634,"ExportActive":[0.02465,0.00001,0.00001],"Period":[0.0,0.0,0.0],'
    b'"Power":[-0.2,0.0,0.0],"ApparentPower":[3.2,0.0,0.0],"ReactivePower":[3.2,0.0,0.0],'
    b'"Factor":[-0.05,0.00,0.00],"Frequency":[49.96,48.85,136.83],"Voltage":[236.9,0.1,0.1],'
    b'"Current":[0.013,0.014,0.013],"CurrentNeutral":0.011}}'
)
# The Shelly 2.5 (dual relay) SENSOR shape of arendst/Tasmota issue #13591, with SetOption129 1 so
# Total is one value per channel too (Tasmota docs, "Energy": SetOption129); counter values our own.
DUAL_SO129 = (
    b'{"Time":"2026-11-27T21:00:00","Switch1":"OFF","Switch2":"OFF","ANALOG":{"Temperature":42.9},'
    b'"ENERGY":{"TotalStartTime":"2021-09-21T04:40:20","Total":[0.512,1.204],"Yesterday":[0.0,0.0],'
    b'"Today":[0.0,0.0],"Period":[0,0],"Power":[15,60],"ApparentPower":[16,62],"ReactivePower":[3,9],'
    b'"Factor":[0.95,0.97],"Voltage":230,"Current":[0.070,0.270]},"TempUnit":"C"}'
)
# trucki-eu/Trucki2Shelly-Gateway issue #17: a Tasmota SML reading head whose script names the meter "".
# Its Time was 1970 (no NTP): here with the clock set, and as sent in the clock test below.
SML_UNNAMED = b'{"Time":"2023-08-04T12:00:00","":{"Total_in":2173.5,"Total_out":349.3,"Power_curr":-136.39}}'


def utc_ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def test_three_phase_modbus_meter_sums_phases_and_reads_export_active() -> None:
    [r] = tasmota.decode("tele/Zaehler/SENSOR", MODBUS_3PHASE, BERLIN)
    assert r.energy_wh == pytest.approx(16_647_945.0)
    assert r.export_wh == pytest.approx(5_134_481.0)  # 1508.369 + 1929.488 + 1696.624 kWh
    assert r.power_w == pytest.approx(-214.973)  # -136.495 + 0 - 78.478: exporting
    assert r.voltage_v == 230.75 and r.current_a == pytest.approx(1.087)
    assert r.ts_ms == utc_ms(2023, 1, 10, 12, 3, 11)  # CET


def test_shelly_3em_on_tasmota_reads_small_counters_in_kwh() -> None:
    [r] = tasmota.decode("tele/em3/SENSOR", SHELLY_3EM_TASMOTA, BERLIN)
    assert r.energy_wh == pytest.approx(6.27)
    assert r.export_wh == pytest.approx(24.67)  # 0.02465 + 0.00001 + 0.00001 kWh
    assert r.power_w == pytest.approx(-0.2)


def test_per_channel_totals_are_summed_not_the_first_element() -> None:
    [r] = tasmota.decode("tele/dual/SENSOR", DUAL_SO129, BERLIN)
    assert (r.device_id, r.energy_wh, r.power_w) == ("dual", pytest.approx(1716.0), 75.0)  # 512 + 1204 Wh


def test_split_makes_one_device_per_channel() -> None:
    ch1, ch2 = tasmota.decode("tele/dual/SENSOR", DUAL_SO129, BERLIN, channels="split")
    assert (ch1.device_id, ch1.energy_wh, ch1.power_w, ch1.voltage_v, ch1.current_a) == (
        "dual-ch1", 512.0, 15.0, 230.0, 0.070)
    assert (ch2.device_id, ch2.energy_wh, ch2.power_w, ch2.current_a) == ("dual-ch2", 1204.0, 60.0, 0.270)


def test_one_channel_keeps_the_device_id() -> None:
    [r] = tasmota.decode("tele/dual/SENSOR", DUAL_SO129, BERLIN, channels=2)
    assert (r.device_id, r.energy_wh, r.power_w) == ("dual", 1204.0, 60.0)
    with pytest.raises(RejectedReading, match="channel 3 was configured, but this device reports channels 1..2"):
        tasmota.decode("tele/dual/SENSOR", DUAL_SO129, BERLIN, channels=3)


def test_split_of_a_device_total_says_what_is_needed() -> None:
    with pytest.raises(RejectedReading, match=r"ENERGY.Total has 1 value\(s\) but Power has 3 channels.*SetOption129"):
        tasmota.decode("tele/Zaehler/SENSOR", MODBUS_3PHASE, BERLIN, channels="split")


def test_total_tariff_stands_in_for_a_missing_total() -> None:
    payload = b'{"Time":"2026-11-27T21:00:00","ENERGY":{"TotalTariff":[800.123,434.444],"Power":412}}'
    [r] = tasmota.decode("tele/t/SENSOR", payload, BERLIN)
    assert r.energy_wh == pytest.approx(1_234_567.0)


def test_sml_meter_with_default_names_decodes_whatever_the_object_is_called() -> None:
    [r] = tasmota.decode("tele/lesekopf/SENSOR", SML_UNNAMED, BERLIN)
    assert (r.energy_wh, r.export_wh, r.power_w) == (2_173_500.0, 349_300.0, -136.39)
    assert r.ts_ms == utc_ms(2023, 8, 4, 10, 0, 0)  # CEST


def test_sml_meter_without_ntp_is_refused_for_its_clock_not_as_no_sensor() -> None:
    payload = SML_UNNAMED.replace(b"2023-08-04T12:00:00", b"1970-06-11T05:35:26")  # as the issue shows it
    with pytest.raises(RejectedReading, match="clock is not set") as err:
        tasmota.decode("tele/lesekopf/SENSOR", payload, BERLIN)
    assert err.value.code == "implausible"


# A meter script with German names (the Tasmota Smart-Meter-Interface docs' scripts name values freely).
SML_GERMAN = b'{"Time":"2026-11-27T21:00:00","Strom":{"Bezug":5123.4567,"Einspeisung":12.5,"Leistung":523}}'


def test_sml_meter_with_other_names_needs_a_mapping_and_the_reason_says_so() -> None:
    with pytest.raises(RejectedReading) as err:
        tasmota.decode("tele/zaehler/SENSOR", SML_GERMAN, BERLIN)
    assert err.value.code == "no_energy_block"
    assert "no SML meter object with Total_in/Total_out/Power_curr" in err.value.reason
    assert "it carried Strom" in err.value.reason and "source_options.sml" in err.value.reason
    mapping = SmlMapping.from_dict({"meter": "Strom", "energy": "Bezug", "export": "Einspeisung", "power": "Leistung"})
    [r] = tasmota.decode("tele/zaehler/SENSOR", SML_GERMAN, BERLIN, sml=mapping)
    assert (r.energy_wh, r.export_wh, r.power_w) == (pytest.approx(5_123_456.7), 12_500.0, 523.0)


def test_sml_energy_in_wh_is_not_multiplied() -> None:
    mapping = SmlMapping.from_dict({"energy": "Bezug", "power": "Leistung", "export": None, "energy_unit": "Wh"})
    [r] = tasmota.decode("tele/zaehler/SENSOR", SML_GERMAN, BERLIN, sml=mapping)
    assert (r.energy_wh, r.export_wh) == (5123.4567, None)


@pytest.mark.parametrize(
    ("raw", "match"),
    [({"energy": 5}, "sml.energy: expected a string"), ({"energy_unit": "MWh"}, "expected kWh or Wh"),
     ({"total": "x"}, "unknown keys")],
)
def test_a_bad_sml_mapping_is_a_config_error(raw: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SmlMapping.from_dict(raw)


def test_a_sensor_without_energy_names_both_expected_shapes_and_what_it_found() -> None:
    payload = orjson.dumps({"Time": "2026-11-27T21:00:00", "AM2301": {"Temperature": 21.4}, "TempUnit": "C"})
    with pytest.raises(RejectedReading) as err:
        tasmota.decode("tele/t/SENSOR", payload, BERLIN)
    assert "no ENERGY block" in err.value.reason and "no SML meter object" in err.value.reason
    assert "it carried AM2301, TempUnit" in err.value.reason
