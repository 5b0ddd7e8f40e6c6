"""The canonical v1 wire format: what is accepted, and every reason something is rejected."""

from __future__ import annotations

import random

import orjson
import pytest

from energymon.domain.reading import (
    MAX_MESSAGE_BYTES,
    Reading,
    decode_message,
    device_from_topic,
    encode_message,
    format_ts,
    parse_ts,
    telemetry_topic,
)
from energymon.errors import RejectedReading

NOW_MS = parse_ts("2026-11-27T21:00:00.000Z")


def message(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "v": 1,
        "device_id": "apt-12",
        "seq": 1042,
        "samples": [{"ts": "2026-11-27T21:00:00.000Z", "power_w": 412.5, "energy_wh": 1234567.0}],
    }
    body.update(overrides)
    return body


def sample(**overrides: object) -> dict[str, object]:
    s: dict[str, object] = {"ts": "2026-11-27T20:59:00.000Z", "power_w": 100.0, "energy_wh": 10.0}
    s.update(overrides)
    return {k: v for k, v in s.items() if v is not _DROP}


_DROP = object()


def reject(payload: bytes, topic_device: str | None = "apt-12") -> RejectedReading:
    with pytest.raises(RejectedReading) as info:
        decode_message(payload, topic_device, NOW_MS)
    assert info.value.reason, "a rejection must carry a reason a person can read"
    assert str(info.value) == info.value.reason
    return info.value


# --- accepted --------------------------------------------------------------------------------


def test_given_the_architecture_example_when_decoded_then_one_reading_with_every_field() -> None:
    payload = orjson.dumps(message())
    [reading] = decode_message(payload, "apt-12", NOW_MS)
    assert reading == Reading("apt-12", NOW_MS, power_w=412.5, energy_wh=1234567.0)


def test_given_a_batched_message_with_optional_fields_when_decoded_then_every_sample_in_order() -> None:
    samples = [
        {"ts": "2026-11-27T20:59:58.000Z", "power_w": 400, "energy_wh": 10, "export_wh": 2.5,
         "voltage_v": 230.1, "current_a": 1.7},
        {"ts": "2026-11-27T21:59:59.000+01:00", "power_w": 410},
        {"ts": "2026-11-27T21:00:00.000Z", "energy_wh": 10.2},
    ]
    readings = decode_message(orjson.dumps(message(samples=samples)), "apt-12", NOW_MS)
    assert [r.ts_ms for r in readings] == [NOW_MS - 2000, NOW_MS - 1000, NOW_MS]
    assert readings[0].export_wh == 2.5 and readings[0].voltage_v == 230.1 and readings[0].current_a == 1.7
    assert readings[1].energy_wh is None and readings[2].power_w is None


def test_given_a_message_without_topic_when_decoded_then_no_spoofing_check_is_made() -> None:
    assert decode_message(orjson.dumps(message()), None, NOW_MS)[0].device_id == "apt-12"


def test_given_readings_when_encoded_and_decoded_then_they_round_trip_exactly() -> None:
    rng = random.Random(7)
    readings = [
        Reading("apt-12", rng.randrange(946_684_800_000, 4_102_444_800_000), power_w=rng.random() * 5000,
                energy_wh=float(rng.randrange(10**7)))
        for _ in range(500)
    ]
    assert decode_message(encode_message("apt-12", 1, readings), "apt-12") == readings


def test_given_any_millisecond_when_formatted_and_parsed_then_not_one_millisecond_is_lost() -> None:
    # The float path (timestamp() * 1000, truncated) lost a millisecond on ~0.6 % of timestamps.
    rng = random.Random(3)
    for _ in range(20_000):
        ts = rng.randrange(946_684_800_000, 4_102_444_800_000)
        assert parse_ts(format_ts(ts)) == ts
    assert parse_ts("2026-11-27T22:00:00.123+01:00") == NOW_MS + 123


def test_given_a_topic_when_parsed_then_its_device_comes_back() -> None:
    assert device_from_topic(telemetry_topic("apt-12")) == "apt-12"
    assert device_from_topic("energy//telemetry") is None
    assert device_from_topic("energy/apt-12/status") is None


# --- rejected: every reason ----------------------------------------------------------------------


def test_given_a_message_over_128_kb_when_decoded_then_rejected_as_too_large() -> None:
    samples = [sample(ts=f"2026-11-27T20:{i // 60 % 60:02d}:{i % 60:02d}.000Z") for i in range(3000)]
    payload = orjson.dumps(message(samples=samples))
    assert len(payload) > MAX_MESSAGE_BYTES
    err = reject(payload)
    assert err.code == "too_large"
    assert str(MAX_MESSAGE_BYTES) in err.reason


def test_given_exactly_128_kb_when_decoded_then_size_is_not_the_reason() -> None:
    payload = orjson.dumps(message())
    padded = payload[:-1] + b" " * (MAX_MESSAGE_BYTES - len(payload)) + b"}"
    assert len(padded) == MAX_MESSAGE_BYTES
    assert decode_message(padded, "apt-12", NOW_MS)


@pytest.mark.parametrize("payload", [b"", b"{", b"not json", b"\xff\xfe", b'{"v": 1,}'])
def test_given_bytes_that_are_not_json_when_decoded_then_rejected_as_not_json(payload: bytes) -> None:
    err = reject(payload)
    assert err.code == "not_json"
    assert "not JSON" in err.reason


@pytest.mark.parametrize("body", [[], [message()], "text", 1, None])
def test_given_json_that_is_not_an_object_when_decoded_then_rejected(body: object) -> None:
    err = reject(orjson.dumps(body))
    assert err.code == "schema"
    assert "JSON object" in err.reason


@pytest.mark.parametrize("version", [2, 0, "1", None, True, 1.5])
def test_given_a_wrong_version_when_decoded_then_rejected_naming_the_version(version: object) -> None:
    body = message(v=version)
    if version is None:
        del body["v"]
    err = reject(orjson.dumps(body))
    assert err.code == "schema"
    assert "version" in err.reason and "expected 1" in err.reason


@pytest.mark.parametrize(
    "device_id", ["", "apt 12", "apt/12", "-apt", "x" * 129, 12, None, "apt-12\n", "ä"]
)
def test_given_a_bad_device_id_when_decoded_then_rejected_as_malformed(device_id: object) -> None:
    err = reject(orjson.dumps(message(device_id=device_id)), topic_device=None)
    assert err.code == "schema"
    assert "device_id" in err.reason and "malformed" in err.reason


def test_given_a_device_id_that_differs_from_the_topic_when_decoded_then_rejected_as_spoofed() -> None:
    err = reject(orjson.dumps(message(device_id="apt-13")), topic_device="apt-12")
    assert err.code == "spoofed"
    assert "apt-13" in err.reason and "apt-12" in err.reason


@pytest.mark.parametrize("samples", [[], None, {}, "x"])
def test_given_no_samples_when_decoded_then_rejected(samples: object) -> None:
    err = reject(orjson.dumps(message(samples=samples)))
    assert err.code == "schema"
    assert "samples must be a non-empty list" in err.reason


def test_given_too_many_samples_when_decoded_then_rejected() -> None:
    samples = [{"ts": 1795813200 - i, "power_w": 1} for i in range(3601)]
    err = reject(orjson.dumps(message(samples=samples)))
    assert err.code == "schema" and "3601 samples" in err.reason


@pytest.mark.parametrize("seq", [-1, "1", True, 1.5])
def test_given_a_bad_sequence_number_when_decoded_then_rejected(seq: object) -> None:
    err = reject(orjson.dumps(message(seq=seq)))
    assert err.code == "schema" and "seq" in err.reason


def test_given_a_sample_without_ts_when_decoded_then_rejected_naming_the_sample() -> None:
    samples = [sample(), sample(ts=_DROP)]
    err = reject(orjson.dumps(message(samples=samples)))
    assert err.code == "schema"
    assert err.reason == "samples[1].ts is missing"


def test_given_a_ts_without_zone_when_decoded_then_rejected_with_a_hint() -> None:
    err = reject(orjson.dumps(message(samples=[sample(ts="2026-11-27T20:59:00")])))
    assert err.code == "bad_timestamp"
    assert "no time zone" in err.reason and "'Z'" in err.reason


@pytest.mark.parametrize("ts", ["yesterday", "", True, None, [1], float("nan")])
def test_given_a_ts_that_is_not_a_time_when_decoded_then_rejected(ts: object) -> None:
    body = orjson.dumps(message(samples=[sample(ts=ts)]), option=orjson.OPT_SERIALIZE_NUMPY)
    err = reject(body)
    assert err.code == "bad_timestamp"
    assert "timestamp" in err.reason


@pytest.mark.parametrize("power", ["412", None, True, [412], {"w": 1}])
def test_given_a_non_numeric_power_when_decoded_then_rejected(power: object) -> None:
    body = orjson.dumps(message(samples=[sample(power_w=power, energy_wh=_DROP)]))
    err = reject(body)
    assert err.code == "schema"
    assert "power_w" in err.reason


def test_given_a_sample_without_power_or_energy_when_decoded_then_rejected() -> None:
    err = reject(orjson.dumps(message(samples=[{"ts": "2026-11-27T20:59:00Z", "voltage_v": 230}])))
    assert err.code == "schema" and "needs power_w or energy_wh" in err.reason


def test_given_a_non_numeric_optional_field_when_decoded_then_rejected() -> None:
    err = reject(orjson.dumps(message(samples=[sample(voltage_v="230")])))
    assert err.code == "schema" and "voltage_v" in err.reason


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("power_w", 2_000_000.0, "implausible"),
        ("power_w", -2_000_000.0, "implausible"),
        ("energy_wh", -1.0, "negative"),
        ("export_wh", -0.5, "negative"),
        ("ts", "1999-12-31T23:59:59Z", "before 2000"),
        ("ts", 0, "before 2000"),
    ],
)
def test_given_an_implausible_value_when_decoded_then_rejected_as_implausible(
    field: str, value: object, words: str
) -> None:
    err = reject(orjson.dumps(message(samples=[sample(**{field: value})])))
    assert err.code == "implausible"
    assert words in err.reason


def test_given_a_timestamp_more_than_5_minutes_ahead_when_decoded_then_rejected_as_future() -> None:
    err = reject(orjson.dumps(message(samples=[sample(ts="2026-11-27T21:05:00.001Z")])))
    assert err.code == "implausible"
    assert "in the future" in err.reason


def test_given_a_timestamp_within_the_clock_skew_allowance_when_decoded_then_accepted() -> None:
    [reading] = decode_message(orjson.dumps(message(samples=[sample(ts="2026-11-27T21:05:00Z")])), "apt-12", NOW_MS)
    assert reading.ts_ms == NOW_MS + 300_000


def test_given_one_bad_sample_among_good_ones_when_decoded_then_the_whole_message_is_rejected() -> None:
    # A message is the unit of acceptance: no half-stored messages.
    samples = [sample(), sample(ts="2026-11-27T20:59:01Z", power_w="x", energy_wh=_DROP)]
    err = reject(orjson.dumps(message(samples=samples)))
    assert err.reason.startswith("samples[1].power_w")
