"""Tasmota SENSOR decoder: real payload shapes from FACTS.md, local time in the device zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from energymon.domain.decoders import tasmota
from energymon.errors import ConfigError, RejectedReading

DEVICES = Path(__file__).parents[1] / "events" / "devices"
BERLIN = ZoneInfo("Europe/Berlin")
TOPIC = "tele/kitchen-plug/SENSOR"


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def payload(time: str = "2026-11-27T21:00:00", **energy: object) -> bytes:

    body = {"Time": time, "ENERGY": {"Total": 1.5, "Power": 10, **energy}}
    return orjson.dumps(body)


def test_given_the_facts_payload_when_decoded_then_kwh_becomes_wh_and_local_time_becomes_utc() -> None:
    # GIVEN the Tasmota SENSOR payload from FACTS.md from a plug in Berlin (CET, UTC+1 in February)
    raw = (DEVICES / "tasmota_sensor.json").read_bytes()
    # WHEN decoded
    [reading] = tasmota.decode(TOPIC, raw, BERLIN)
    # THEN the id comes from the topic, Total kWh -> Wh, and 17:37:10 local is 16:37:10 UTC
    assert reading.device_id == "kitchen-plug"
    assert reading.ts_ms == ms(2018, 2, 15, 16, 37, 10)
    assert reading.energy_wh == pytest.approx(6294.0)
    assert reading.power_w == 2635.0
    assert reading.voltage_v == 227.0
    assert reading.current_a == pytest.approx(11.661)
    assert reading.export_wh is None


@pytest.mark.parametrize(
    ("sample", "energy_wh", "power_w", "voltage_v", "current_a"),
    [
        # tariffs (current firmware): Total is the total, TotalTariff = [tariff1, tariff2] is not read
        ("tasmota_sensor_tariffs.json", 1_234_567.0, 412.0, 231.0, 1.861),
        # multi-channel: Power/Current arrays are summed, Voltage array -> first channel
        ("tasmota_sensor_multichannel.json", 2500.0, 155.0, 230.0, 0.739),
    ],
)
def test_given_tariffs_or_channel_arrays_when_decoded_then_total_is_the_total_and_channels_are_summed(
    sample: str, energy_wh: float, power_w: float, voltage_v: float, current_a: float
) -> None:
    [reading] = tasmota.decode(TOPIC, (DEVICES / sample).read_bytes(), "Europe/Berlin")
    assert reading.energy_wh == pytest.approx(energy_wh)
    assert reading.power_w == pytest.approx(power_w)
    assert reading.voltage_v == pytest.approx(voltage_v)
    assert reading.current_a == pytest.approx(current_a)
    assert reading.ts_ms == ms(2026, 11, 27, 20, 0, 0)


@pytest.mark.parametrize(
    ("local", "zone", "utc"),
    [
        # summer time: UTC+2
        ("2026-07-01T12:00:00", "Europe/Berlin", (2026, 7, 1, 10, 0, 0)),
        # autumn: 02:30 happens twice -> the first (still CEST, fold=0)
        ("2026-10-25T02:30:00", "Europe/Berlin", (2026, 10, 25, 0, 30, 0)),
        # spring: 02:30 does not exist -> shifted forward by the gap (= 03:30 CEST)
        ("2026-03-29T02:30:00", "Europe/Berlin", (2026, 3, 29, 1, 30, 0)),
        # half-hour zone
        ("2026-11-27T21:00:00", "Asia/Kolkata", (2026, 11, 27, 15, 30, 0)),
        # an explicit offset is honoured as given, whatever the configured zone
        ("2026-11-27T21:00:00+00:00", "Europe/Berlin", (2026, 11, 27, 21, 0, 0)),
    ],
)
def test_given_local_time_without_zone_when_decoded_then_it_is_read_in_the_device_zone_deterministically(
    local: str, zone: str, utc: tuple[int, ...]
) -> None:
    [reading] = tasmota.decode(TOPIC, payload(local), zone)
    assert reading.ts_ms == ms(*utc)


def test_given_a_non_existent_local_time_when_decoded_then_it_lands_after_the_gap() -> None:
    [reading] = tasmota.decode(TOPIC, payload("2026-03-29T02:30:00"), BERLIN)
    local = datetime.fromtimestamp(reading.ts_ms / 1000, BERLIN)
    assert (local.hour, local.minute) == (3, 30)


@pytest.mark.parametrize(
    ("topic", "raw", "code", "reason_part"),
    [
        ("tele/kitchen-plug/STATE", payload(), "bad_topic", "tele/<topic>/SENSOR"),
        ("energy/kitchen-plug/telemetry", payload(), "bad_topic", "not a Tasmota sensor topic"),
        (TOPIC, b"{not json", "not_json", "not JSON"),
        (TOPIC, b"[1, 2]", "schema", "must be a JSON object"),
        (
            TOPIC,
            (DEVICES / "tasmota_sensor_no_energy.json").read_bytes(),
            "no_energy_block",
            "no ENERGY block",
        ),
        (TOPIC, b'{"Time": "2026-11-27T21:00:00", "ENERGY": 5}', "schema", "ENERGY must be an object"),
        (
            TOPIC,
            b'{"Time": "2026-11-27T21:00:00", "ENERGY": {"Voltage": 230}}',
            "schema",
            "neither Total nor Power",
        ),
        (TOPIC, payload(Total="6.2"), "schema", "ENERGY.Total must be a finite number"),
        (TOPIC, payload(Total=[]), "schema", "ENERGY.Total is an empty list"),
        (TOPIC, payload(Power=[10, "x"]), "schema", "ENERGY.Power[1]"),
        (TOPIC, payload(Power=True), "schema", "ENERGY.Power must be a finite number"),
        (TOPIC, payload(Total=-1.0), "implausible", "negative"),
        (TOPIC, payload(Power=2_000_000), "implausible", "implausible for a home"),
        (TOPIC, payload("1970-01-01T00:00:42"), "implausible", "clock is not set"),
        (TOPIC, payload("yesterday"), "bad_timestamp", "not an ISO-8601"),
        (TOPIC, b'{"ENERGY": {"Total": 1.0}}', "bad_timestamp", "missing"),
        (TOPIC, b"x" * (128 * 1024 + 1), "too_large", "over the"),
    ],
)
def test_given_a_bad_message_when_decoded_then_it_is_rejected_with_a_readable_reason(
    topic: str, raw: bytes, code: str, reason_part: str
) -> None:
    with pytest.raises(RejectedReading) as err:
        tasmota.decode(topic, raw, BERLIN)
    assert err.value.code == code
    assert reason_part in err.value.reason


def test_given_an_expected_device_id_when_the_topic_names_another_then_it_is_rejected_as_spoofed() -> None:
    with pytest.raises(RejectedReading) as err:
        tasmota.decode(TOPIC, payload(), BERLIN, device_id="other-plug")
    assert err.value.code == "spoofed"


def test_given_a_clock_far_ahead_when_now_is_known_then_the_reading_is_rejected() -> None:
    now = ms(2026, 11, 27, 19, 0, 0)  # 20:00 local; payload says 21:00 local
    with pytest.raises(RejectedReading, match="future"):
        tasmota.decode(TOPIC, payload(), BERLIN, now_ms=now)


def test_given_an_unknown_zone_when_decoding_then_it_is_a_config_error_not_a_bad_reading() -> None:
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        tasmota.decode(TOPIC, payload(), "Mars/Olympus")
