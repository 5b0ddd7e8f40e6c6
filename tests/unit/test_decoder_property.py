"""Property: no payload makes any decoder raise anything but a rejection with a reason.

Payloads: random bytes, truncated real payloads, real payloads with one value replaced by a wrong type,
a huge or non-finite number, or deep nesting (the hostile kinds of tests/fuzzgen.py), deep bodies, and
P1 telegrams with registers garbled, with and without a CRC that vouches for the garbling.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fuzzgen
from energymon.adapters.mqtt.sources import SourceOptions, message_decoder
from energymon.domain.decoders import canonical, dsmr
from energymon.domain.reading import Reading
from energymon.errors import RejectedReading

DEVICES = Path(__file__).parents[1] / "events" / "devices"
NOW = 1_795_813_230_000


def _route(source: str, channels: str | None = None):  # type: ignore[no-untyped-def]
    options = SourceOptions.from_dict({"channels": channels} if channels else {})
    route, _ = message_decoder(source, lambda _d: "Europe/Berlin", options)
    return route


JSON_FAMILIES: dict[str, tuple[Any, str, list[str]]] = {
    "tasmota": (_route("tasmota"), "tele/plug/SENSOR",
                ["tasmota_sensor.json", "tasmota_sensor_multichannel.json", "tasmota_sensor_tariffs.json"]),
    "tasmota-split": (_route("tasmota", "split"), "tele/plug/SENSOR", ["tasmota_sensor_multichannel.json"]),
    "shelly": (_route("shelly"), "shellypro3em-c8f09e8812a4/events/rpc",
               ["shelly_pro3em_em.json", "shelly_pro3em_emdata.json", "shelly_proem_em1.json",
                "shelly_plus1pm_switch.json"]),
    "shelly-split": (_route("shelly", "split"), "shellyproem50-08f9e0e5a1b2/events/rpc",
                     ["shelly_proem_em1.json", "shelly_proem_em1data.json"]),
    "canonical": (lambda t, p, now_ms: canonical.decode(t, p, "UTC", now_ms=now_ms), "energy/apt-1/telemetry",
                  []),
}
CANONICAL = b'{"v":1,"device_id":"apt-1","seq":3,"samples":[{"ts":"2026-11-27T21:00:00Z","power_w":5,"energy_wh":7}]}'
TELEGRAMS = sorted(DEVICES.glob("p1_*.txt")) + [DEVICES / "dsmr_v5_telegram.txt"]
LITERALS = sorted({lit for _w, lit, _e in fuzzgen._HUGE} | {"Infinity", "-Infinity", "NaN", "1e999", "-1e999"})


def _base(family: str, index: int) -> bytes:
    names = JSON_FAMILIES[family][2]
    return CANONICAL if not names else (DEVICES / names[index % len(names)]).read_bytes()


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            found += _paths(child, (*path, i))
    return found


def _replace(body: Any, path: tuple[Any, ...], new: str) -> bytes:
    """``body`` as JSON text with the value at ``path`` replaced by the raw JSON text ``new``."""
    marker = "\u0001MARK\u0001"
    if not path:
        return new.encode()
    copy = json.loads(json.dumps(body))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = marker
    return orjson.dumps(copy).replace(orjson.dumps(marker), new.encode())


replacement = st.one_of(
    st.sampled_from([json.dumps(v) for v in fuzzgen._WRONG]),
    st.sampled_from(LITERALS),
    st.builds(fuzzgen._nested, st.sampled_from([50, 300, 1500]), st.sampled_from(["array", "object"])),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.text(max_size=20).map(json.dumps),
)


@st.composite
def json_payload(draw: st.DrawFn, family: str) -> bytes:
    base = _base(family, draw(st.integers(0, 10)))
    kind = draw(st.sampled_from(["bytes", "truncated", "replace", "replace", "replace", "replace", "deep"]))
    if kind == "bytes":
        return draw(st.binary(max_size=600))
    if kind == "truncated":
        return base[: draw(st.integers(0, len(base) - 1))]
    if kind == "deep":
        return fuzzgen._nested(draw(st.sampled_from([255, 1025, 5000])), draw(st.sampled_from(["array", "object"]))).encode()
    body = orjson.loads(base)
    path = draw(st.sampled_from(_paths(body)))
    return _replace(body, path, draw(replacement))


def _check(decode: Any) -> None:
    try:
        readings = decode()
    except RejectedReading as exc:
        assert isinstance(exc.reason, str) and exc.reason.strip(), exc
        assert isinstance(exc.code, str) and exc.code, exc
        return
    assert isinstance(readings, list) and readings and all(isinstance(r, Reading) for r in readings)


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.data(), family=st.sampled_from(sorted(JSON_FAMILIES)))
def test_no_json_payload_makes_a_decoder_raise_anything_but_a_rejection(data: st.DataObject, family: str) -> None:
    decode, topic, _ = JSON_FAMILIES[family]
    payload = data.draw(json_payload(family))
    _check(lambda: decode(topic, payload, now_ms=NOW))


@FUZZ
@given(payload=st.one_of(st.binary(max_size=300), st.from_regex(rb"\A[0-9.eE+-]{0,30}\Z")),
       quantity=st.sampled_from(["emeter/0/power", "emeter/1/total", "relay/0/energy", "light/0/power"]))
def test_no_shelly_gen1_payload_makes_it_raise_anything_but_a_rejection(payload: bytes, quantity: str) -> None:
    route = _route("shelly-gen1", "split")
    _check(lambda: route(f"shellies/s1/{quantity}", payload, now_ms=NOW))


@st.composite
def telegram(draw: st.DrawFn) -> bytes:
    raw = TELEGRAMS[draw(st.integers(0, len(TELEGRAMS) - 1))].read_bytes()
    kind = draw(st.sampled_from(["bytes", "truncated", "value", "insert"]))
    if kind == "bytes":
        return b"/" + draw(st.binary(max_size=600))
    if kind == "truncated":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if kind == "insert":
        at = draw(st.integers(0, len(raw)))
        return raw[:at] + draw(st.binary(min_size=1, max_size=40)) + raw[at:]
    # one register's value replaced, then (sometimes) a CRC computed that vouches for it
    lines = raw.split(b"\r\n")
    i = draw(st.integers(0, len(lines) - 1))
    value = draw(st.one_of(st.sampled_from([s.encode() for s in LITERALS]), st.binary(max_size=30),
                           st.from_regex(rb"\A-?[0-9]{0,40}(\.[0-9]{0,20})?(\*[A-Za-z0-9]{0,4})?\Z")))
    if b"(" in lines[i]:
        lines[i] = lines[i][: lines[i].index(b"(") + 1] + value + b")"
    body = b"\r\n".join(lines)
    if draw(st.booleans()) and b"!" in body:
        body = body[: body.rindex(b"!") + 1]
        body += f"{dsmr.crc16_arc(body):04X}\r\n".encode()
    return body


@FUZZ
@given(payload=st.one_of(st.binary(max_size=300), st.from_regex(rb"\A[0-9.eE+-]{0,30}\Z"), json_payload("tasmota")),
       name=st.sampled_from(["power", "energy", "other"]))
def test_no_plain_value_payload_makes_it_raise_anything_but_a_rejection(payload: bytes, name: str) -> None:
    options = SourceOptions.from_dict({"topics": ["{device}/sensor/{quantity}/state"],
                                       "quantities": {"power": "power_w", "energy": "energy_kwh", "Power": "power_w"}})
    route, _ = message_decoder("plain", lambda _d: "UTC", options)
    _check(lambda: route(f"node/sensor/{name}/state", payload, now_ms=NOW))


@FUZZ
@given(payload=telegram(), zone=st.sampled_from(["Europe/Amsterdam", "Europe/Dublin", "UTC"]))
def test_no_telegram_makes_the_p1_decoder_raise_anything_but_a_rejection(payload: bytes, zone: str) -> None:
    _check(lambda: dsmr.decode("", payload, zone, device_id="p1", now_ms=NOW))
