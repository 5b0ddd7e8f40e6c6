"""Decode throughput per device family (payloads/s), against the parse floor of the same payloads in the
same run: ``orjson.loads`` for the JSON families, a bytes split into lines for P1 telegrams (the least any
P1 decoder does). Each family's decoder is the one the bridge runs (``message_decoder``), on real payloads
from tests/events/devices. Short: about 1 s per family.

    python -m benchmarks --only decoders      (or: python -m benchmarks.bench_decoders)
"""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from energymon.adapters.mqtt.sources import SourceOptions, message_decoder
from energymon.domain.decoders import canonical, dsmr

DEVICES = Path(__file__).parents[1] / "tests" / "events" / "devices"
NOW_MS = 1_795_813_230_000
# A Tasmota dual relay with SetOption129 1 (per-channel totals), as in tests/unit/test_decoder_tasmota_meters.py.
DUAL_SO129 = (b'{"Time":"2026-11-27T21:00:00","ENERGY":{"TotalStartTime":"2021-09-21T04:40:20","Total":[0.512,1.204],'
              b'"Yesterday":[0.0,0.0],"Today":[0.0,0.0],"Power":[15,60],"Voltage":230,"Current":[0.070,0.270]}}')  # a fixed arrival time: the fixtures' own timestamps are judged against it


def _route(source: str, **options: Any) -> Any:
    route, _ = message_decoder(source, lambda _d: "Europe/Berlin", SourceOptions.from_dict(options))
    return lambda topic, payload: route(topic, payload, now_ms=NOW_MS)


def families() -> list[tuple[str, Any, list[tuple[str, bytes]], str]]:
    def files(*names: str) -> list[bytes]:
        return [(DEVICES / n).read_bytes() for n in names]

    canonical_msg = orjson.dumps({"v": 1, "device_id": "apt-1", "seq": 1, "samples": [
        {"ts": f"2026-11-27T21:00:{s:02d}Z", "power_w": 412.5, "energy_wh": 1e6 + s} for s in range(10)]})
    p1 = files("dsmr_v5_telegram.txt", "p1_dsmr5_iskra_mt382.txt", "p1_austria_sagemcom_t210dr_wh.txt",
               "p1_hungary_eon_sagemcom.txt")
    return [
        ("canonical (10 samples)", lambda t, p: canonical.decode(t, p, "UTC", now_ms=NOW_MS),
         [("energy/apt-1/telemetry", canonical_msg)], "json"),
        ("tasmota ENERGY", _route("tasmota"), [("tele/plug/SENSOR", p) for p in files(
            "tasmota_sensor_multichannel.json", "tasmota_sensor_tariffs.json")], "json"),
        ("tasmota split channels", _route("tasmota", channels="split"),
         [("tele/dual/SENSOR", DUAL_SO129)], "json"),
        ("shelly gen2 (em, switch)", _route("shelly"), [("shellypro3em-c8f09e8812a4/events/rpc", p) for p in files(
            "shelly_pro3em_em.json", "shelly_pro3em_emdata.json", "shelly_plus1pm_switch.json")], "json"),
        ("shelly gen1 (one number)", _route("shelly-gen1"),
         [("shellies/plug/relay/0/energy", b"91200"), ("shellies/plug/relay/0/power", b"57.2")], "number"),
        # the fixtures span 2017..2026: judged without an arrival time (the age check is one comparison)
        ("dsmr P1 (CRC, units)", lambda _t, p: dsmr.decode("", p, "Europe/Amsterdam", device_id="p1"),
         [("", p) for p in p1], "lines"),
    ]


def _rate(fn: Any, items: list[tuple[str, bytes]], seconds: float) -> float:
    n = 0
    gc.collect()
    start = time.perf_counter()
    while True:
        for topic, payload in items:
            fn(topic, payload)
        n += len(items)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return n / elapsed


FLOORS = {
    "json": lambda _t, p: orjson.loads(p),
    "number": lambda _t, p: float(p),
    "lines": lambda _t, p: p.split(b"\r\n"),
}


def run(seconds: float = 0.5) -> list[dict[str, Any]]:
    rows = []
    print(f"{'family':28} {'decode/s':>12} {'parse floor/s':>14} {'floor/decode':>13}")
    for name, decode, items, floor in families():
        for topic, payload in items:  # every payload decodes (a benchmark of rejections would measure nothing)
            assert decode(topic, payload), name
        rate = _rate(decode, items, seconds)
        floor_rate = _rate(FLOORS[floor], items, seconds)
        rows.append({"family": name, "decode_per_s": round(rate), "floor_per_s": round(floor_rate),
                     "floor": floor})
        print(f"{name:28} {rate:12,.0f} {floor_rate:14,.0f} {floor_rate / rate:12.1f}x", flush=True)
    return rows


if __name__ == "__main__":
    from benchmarks.__main__ import machine

    info = machine()
    print(f"machine: {info['nproc']} × {info['cpu']} · Python {info['python']} · {info['date']}")
    run(float(sys.argv[1]) if len(sys.argv) > 1 else 0.5)
