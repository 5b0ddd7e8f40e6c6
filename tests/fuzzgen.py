"""Hostile MQTT traffic for the local pipeline, deterministic from a seed, and the campaign that runs it.

Shared by ``tests/integration/test_fuzz_campaign.py`` (a short campaign) and ``benchmarks/fuzz.py`` (the full
one): tests import it as ``fuzzgen`` (pytest puts ``tests/`` on sys.path for the root conftest), the benchmark
adds ``tests/`` to sys.path itself.

- :func:`generate` makes the messages: hostile ones of every kind in :data:`KINDS`, interleaved with KNOWN VALID
  series of a few honest devices (a cumulative counter rising at a constant power, 1 sample/s, 10 samples per
  message, timestamps just before ``now``) whose kWh are known by hand (:meth:`HonestDevice.expected_mwh`).
- :class:`RuntimeProcess` runs ``energymon run`` as a subprocess against a broker; :class:`Publisher` publishes
  with QoS 1 through paho, and through a raw socket what paho refuses to send (invalid UTF-8, NUL, wildcards
  in a topic), counting exactly what the broker acknowledged.
- :func:`account` reads the data directory (stream.db, deadletters.db, store.db) and checks that nothing
  vanished: every acknowledged message is in the stream or dead-lettered by the bridge, every stream record is
  processed or dead-lettered by the processor (or given up on by the poller), every message that must be
  rejected is, every message that must be stored is, and the honest devices' energy is exact.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from energymon.adapters.local.packed_minutes import MinuteReadings

__all__ = [
    "HONEST",
    "KINDS",
    "Campaign",
    "CampaignError",
    "HonestDevice",
    "Message",
    "Publisher",
    "RuntimeProcess",
    "account",
    "generate",
    "honest_messages",
    "run_campaign",
]

TOPIC_FILTER = "energy/+/telemetry"
SAMPLES_PER_MESSAGE = 10
LIMIT_BYTES = 128 * 1024  # the documented payload limit
LIMIT_SAMPLES = 3600  # the documented samples-per-message limit
FUZZ_DEVICES = [f"fuzz-{i:02d}" for i in range(20)]

# What a message must come to, by the documented contract:
REJECT = "reject"  # dead-lettered (at the bridge or by the processor), never stored
STORE = "store"  # its readings stored
EITHER = "either"  # the contract does not decide (e.g. nesting between orjson's write and read limits)


@dataclass(frozen=True)
class HonestDevice:
    """A meter whose cumulative counter rises ``power_w`` / 3600 Wh every second (exact in binary)."""

    device_id: str
    power_w: float
    e0_wh: float

    @property
    def step_wh(self) -> float:
        return self.power_w / 3600

    def expected_mwh(self, readings: int) -> int:
        """Energy of ``readings`` consecutive 1 s samples, by hand from the counters: (last - first) Wh."""
        return round((readings - 1) * self.step_wh * 1000) if readings else 0


HONEST = (
    HonestDevice("honest-1", 1800.0, 1_234_567.0),  # 0.5 Wh a second
    HonestDevice("honest-2", 3600.0, 42.0),  # 1 Wh a second
    HonestDevice("honest-3", 900.0, 7_777_777.25),  # 0.25 Wh a second
)


@dataclass(frozen=True)
class Message:
    """One MQTT publish. A ``bytes`` topic is sent raw (paho cannot send it); ``expect`` is REJECT/STORE/EITHER."""

    topic: str | bytes
    payload: bytes
    kind: str
    expect: str
    honest: str | None = None  # the honest device whose series this message belongs to (not replays)

    @property
    def raw(self) -> bool:
        """Paho refuses (or mangles) these topics: NUL, wildcards, invalid UTF-8, control characters."""
        if isinstance(self.topic, bytes):
            return True
        return any(c in self.topic for c in "\x00+#") or any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F
                                                              for c in self.topic)

    @property
    def topic_bytes(self) -> bytes:
        return self.topic if isinstance(self.topic, bytes) else self.topic.encode("utf-8", "surrogatepass")

    def for_bridge(self) -> bool:
        """Does the bridge's subscription (energy/+/telemetry) match this topic?"""
        try:
            parts = self.topic_bytes.decode("utf-8").split("/")
        except UnicodeDecodeError:
            return False
        return len(parts) == 3 and parts[0] == "energy" and parts[2] == "telemetry" and "+" not in parts[1] \
            and "#" not in parts[1]

    def describe(self, limit: int = 160) -> str:
        body = self.payload[:limit]
        more = f"… ({len(self.payload)} bytes)" if len(self.payload) > limit else ""
        return f"[{self.kind}] topic {self.topic!r} payload {body!r}{more}"


def topic(device: str) -> str:
    return f"energy/{device}/telemetry"


def iso(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms // 1000)) + f".{ts_ms % 1000:03d}Z"


# --------------------------------------------------------------------------------------------------- honest


def honest_sample(device: HonestDevice, t0_ms: int, index: int) -> dict[str, Any]:
    return {"ts": iso(t0_ms + index * 1000), "power_w": device.power_w,
            "energy_wh": device.e0_wh + index * device.step_wh}


def honest_message(device: HonestDevice, t0_ms: int, n: int) -> Message:
    """Message number ``n`` (0-based) of ``device``'s series: samples n*10 .. n*10+9."""
    samples = [honest_sample(device, t0_ms, i)
               for i in range(n * SAMPLES_PER_MESSAGE, (n + 1) * SAMPLES_PER_MESSAGE)]
    body = {"v": 1, "device_id": device.device_id, "seq": n, "samples": samples}
    return Message(topic(device.device_id), orjson.dumps(body), "honest", STORE, device.device_id)


def honest_messages(t0_ms: int, first: int, count: int, devices: tuple[HonestDevice, ...] = HONEST) -> list[Message]:
    """Messages ``first`` .. ``first + count - 1`` of every device, round-robin."""
    return [honest_message(d, t0_ms, n) for n in range(first, first + count) for d in devices]


def honest_t0_ms(now_ms: int, messages_per_device: int) -> int:
    """A whole-minute start such that the last sample is ~2 minutes before ``now_ms`` (never in the future)."""
    span_ms = messages_per_device * SAMPLES_PER_MESSAGE * 1000
    return (now_ms - span_ms - 180_000) // 60_000 * 60_000


# -------------------------------------------------------------------------------------------------- hostile


@dataclass
class _Ctx:
    rng: random.Random
    now_ms: int
    t0_ms: int
    sent_honest: list[Message] = field(default_factory=list)  # honest messages already interleaved

    def fuzz_device(self) -> str:
        return self.rng.choice(FUZZ_DEVICES)

    def honest_device(self) -> HonestDevice:
        return self.rng.choice(HONEST)

    def target(self, honest_share: float = 0.4) -> str:
        """A topic's device for a message that must be rejected: an honest device's topic now and then."""
        return self.honest_device().device_id if self.rng.random() < honest_share else self.fuzz_device()

    def recent_ts_ms(self) -> int:
        """A whole second in the last six hours (well inside the plausible-age window)."""
        return (self.now_ms // 1000 - self.rng.randrange(600, 6 * 3600)) * 1000

    def valid_samples(self, n: int = 3) -> list[dict[str, Any]]:
        start = self.recent_ts_ms()
        energy = round(self.rng.uniform(0, 1e6), 3)
        power = round(self.rng.uniform(0, 5000), 1)
        out = []
        for i in range(n):
            out.append({"ts": iso(start + i * 1000), "power_w": power, "energy_wh": round(energy + i * 0.4, 3)})
        return out

    def valid_body(self, device: str, n: int = 3) -> dict[str, Any]:
        return {"v": 1, "device_id": device, "seq": self.rng.randrange(1_000_000), "samples": self.valid_samples(n)}


def _msg(device: str, body: Any, kind: str, expect: str) -> Message:
    return Message(topic(device), body if isinstance(body, bytes) else orjson.dumps(body), kind, expect)


def k_random_bytes(c: _Ctx) -> Message:
    size = c.rng.choice([c.rng.randrange(1, 16), c.rng.randrange(16, 512), c.rng.randrange(512, 4096)])
    return _msg(c.target(), c.rng.randbytes(size), "random_bytes", REJECT)


def k_truncated_json(c: _Ctx) -> Message:
    device = c.target()
    whole = orjson.dumps(c.valid_body(device, c.rng.randrange(1, 10)))
    return _msg(device, whole[: c.rng.randrange(1, len(whole))], "truncated_json", REJECT)


def _nested(depth: int, shape: str) -> str:
    if shape == "array":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def k_deep_extra(c: _Ctx) -> Message:
    """A valid message with an extra field nested ``depth`` levels (orjson writes ≤ 254, reads ≤ 1024)."""
    depth = c.rng.choice([10, 200, 253, 254, 255, 256, 500, 1000, 1022, 1023, 1024, 1025, 2000, 20_000])
    expect = STORE if depth <= 200 else REJECT if depth >= 1100 else EITHER
    device = c.target() if expect == REJECT else c.fuzz_device()
    text = orjson.dumps(c.valid_body(device)).decode()
    payload = text[:-1] + ',"extra":' + _nested(depth, c.rng.choice(["array", "object"])) + "}"
    return _msg(device, payload.encode(), "deep_extra", expect)


def k_deep_body(c: _Ctx) -> Message:
    depth = c.rng.choice([255, 1023, 1024, 1025, 5000, 60_000])
    return _msg(c.target(), _nested(depth, c.rng.choice(["array", "object"])).encode(), "deep_body", REJECT)


# (where, JSON literal, expect); energy_wh 1e308 and 2**70 are finite and not negative: valid by the contract.
_HUGE = [
    ("ts", "1e308", REJECT), ("ts", "-1e308", REJECT), ("ts", str(2**70), REJECT), ("ts", "1e300", REJECT),
    ("ts", str(2**63), REJECT), ("ts", "4.9e-324", REJECT),
    ("power_w", "1e308", REJECT), ("power_w", "-1e308", REJECT), ("power_w", str(2**70), REJECT),
    ("power_w", str(-(2**63) - 1), REJECT),
    ("energy_wh", "1e308", EITHER), ("energy_wh", str(2**70), EITHER), ("energy_wh", "-1e308", REJECT),
    ("export_wh", "1e308", EITHER), ("voltage_v", "-1e308", EITHER), ("current_a", str(2**64), EITHER),
    ("seq", str(2**70), REJECT), ("seq", str(2**64), REJECT), ("seq", str(2**63), EITHER), ("seq", "-1", REJECT),
    ("v", str(2**70), REJECT), ("v", "1e308", REJECT),
]


def _with_literal(body: dict[str, Any], where: str, literal: str, index: int = 0) -> bytes:
    """``body`` as JSON with ``where`` (a top-level key, or a sample key of sample ``index``) set to ``literal``."""
    marker = "\u0001MARK\u0001"
    body = json.loads(json.dumps(body))
    if where in ("v", "device_id", "seq", "samples"):
        body[where] = marker
    else:
        body["samples"][index][where] = marker
    return orjson.dumps(body).replace(orjson.dumps(marker), literal.encode())


def k_huge_numbers(c: _Ctx) -> Message:
    where, literal, expect = c.rng.choice(_HUGE)
    device = c.target() if expect == REJECT else c.fuzz_device()
    body = c.valid_body(device, c.rng.randrange(1, 4))
    return _msg(device, _with_literal(body, where, literal), "huge_numbers", expect)


def k_inf_nan(c: _Ctx) -> Message:
    device = c.target()
    where = c.rng.choice(["ts", "power_w", "energy_wh", "seq", "v", "export_wh"])
    literal = c.rng.choice(["Infinity", "-Infinity", "NaN", "1e999", "-1e999", "inf", "nan"])
    return _msg(device, _with_literal(c.valid_body(device), where, literal), "inf_nan", REJECT)


def _absurd_ts(c: _Ctx) -> list[tuple[object, str]]:
    now_s = c.now_ms // 1000
    return [
        ("0001-01-01T00:00:00.000Z", REJECT), ("0001-01-01T00:00:00+01:00", REJECT),
        ("0001-01-01T00:00:00-23:59", REJECT), ("9999-12-31T23:59:59.999Z", REJECT),
        ("9999-12-31T23:59:59-23:59", REJECT), ("9999-12-31T23:59:59+23:59", REJECT),
        ("2000-01-01T00:00:00.000Z", REJECT), ("1999-12-31T23:59:59Z", REJECT), ("1970-01-01T00:00:00Z", REJECT),
        ("2026-13-45T00:00:00Z", REJECT), ("2026-02-30T12:00:00.000Z", REJECT), ("2026-11-27T25:61:61Z", REJECT),
        ("2026-11-27T21:00:00", REJECT), ("", REJECT), ("now", REJECT), ("2026-11-27T21:00:00.000Z\n", REJECT),
        ("+2026-11-27T21:00:00Z", REJECT), ("２０２６-11-27T21:00:00Z", REJECT),
        (-1, REJECT), (-1e300, REJECT), (0, REJECT), (1e300, REJECT), (1e18, REJECT), (946_684_800, REJECT),
        (now_s + 86_400, REJECT), (now_s - 40 * 86_400, REJECT), (iso(c.now_ms + 3_600_000), REJECT),
    ]


def k_absurd_ts(c: _Ctx) -> Message:
    value, expect = c.rng.choice(_absurd_ts(c))
    device = c.target()
    body = c.valid_body(device, c.rng.randrange(1, 4))
    body["samples"][c.rng.randrange(len(body["samples"]))]["ts"] = value
    return _msg(device, body, "absurd_ts", expect)


def k_far_apart(c: _Ctx) -> Message:
    """Valid: two readings of one device a month apart (a long silence the processor must fill cheaply)."""
    device = c.fuzz_device()
    body = c.valid_body(device, 2)
    body["samples"][0]["ts"] = iso((c.now_ms // 1000 - c.rng.randrange(30 * 86_400, 34 * 86_400)) * 1000)
    return _msg(device, body, "far_apart", STORE)


_WRONG = [True, False, [], [1], {}, {"a": 1}, "x", "1", "", "12abc", [{"ts": 1}]]


def k_wrong_types(c: _Ctx) -> Message:
    device = c.target()
    body = c.valid_body(device, c.rng.randrange(1, 4))
    where = c.rng.choice(["v", "device_id", "seq", "samples", "sample", "ts", "power_w", "energy_wh", "export_wh",
                          "voltage_v", "current_a", "body"])
    value: Any = c.rng.choice(_WRONG)
    if where in ("v", "device_id", "seq", "samples"):
        body[where] = value
    elif where == "sample":
        body["samples"][0] = c.rng.choice([True, 1, "s", [], None])
    elif where == "body":
        body = c.rng.choice([[body], "body", 1, True, None, []])
    else:
        body["samples"][0][where] = value
    return _msg(device, body, "wrong_types", REJECT)


_UNICODE_IDS = ["äpt-1", "apt\u00001", "apt-1\n", "\U0001f600", "\u202eapt-1", "apt 1", "a" * 129, "ＡＰＴ１",
                "apt-1\x7f", "..", "-apt", "apt\u200b1", "\ud800", "apt/1", "honest-1\u0000", "honest-1 "]


def k_unicode_ids(c: _Ctx) -> Message:
    bad = c.rng.choice(_UNICODE_IDS)
    body = c.valid_body("placeholder")
    body["device_id"] = bad
    try:
        payload = orjson.dumps(body)
    except orjson.JSONEncodeError:  # a lone surrogate: write it as a JSON escape instead
        payload = orjson.dumps(dict(body, device_id="X")).replace(b'"X"', b'"\\ud800"')
    where = c.rng.random()
    if where < 0.5:  # the same id in the topic: raw when paho cannot send it
        tp: str | bytes = f"energy/{bad}/telemetry"
        if "\ud800" in bad:
            tp = b"energy/\xed\xa0\x80/telemetry"
    else:  # a plain topic, a hostile id in the payload
        tp = topic(c.target())
    return Message(tp, payload, "unicode_ids", REJECT)


_BAD_TOPICS: list[str | bytes] = [
    b"energy/\xff\xfe/telemetry", b"energy/apt\xc3/telemetry", b"energy/\xed\xa0\x80/telemetry",
    "energy/apt\x00/telemetry", "energy/+/telemetry", "energy/#", "energy/apt-1\x01/telemetry",
    "energy//telemetry", "energy/a/b/telemetry", "energy/honest-1/telemetry/x", "Energy/honest-1/telemetry",
    "energy/honest-1/Telemetry", "/energy/honest-1/telemetry", "energy/ honest-1/telemetry",
    "energy/honest-1 /telemetry", "energy/\u00e4pt/telemetry", "energy/" + "a" * 300 + "/telemetry",
]


def k_bad_topics(c: _Ctx) -> Message:
    """A valid honest-looking payload on a malformed topic: refused by the broker, unsubscribed, or rejected."""
    tp = c.rng.choice(_BAD_TOPICS)
    device = c.honest_device().device_id
    return Message(tp, orjson.dumps(c.valid_body(device)), "bad_topics", REJECT)


def k_spoofed(c: _Ctx) -> Message:
    """The payload names another device than the topic; sometimes it also smuggles its own topic_device_id."""
    claimed = c.target(0.5)
    on = c.target(0.5)
    while on == claimed:
        on = c.target(0.5)
    body = c.valid_body(claimed)
    if c.rng.random() < 0.3:
        body["topic_device_id"] = claimed
    return _msg(on, body, "spoofed", REJECT)


def _inflating(c: _Ctx) -> Message:
    """Under the limit as sent, over it once re-encoded: orjson writes the number 1e5 as 100000.0."""
    device = c.fuzz_device()
    start_s = c.now_ms // 1000 - c.rng.randrange(2 * 3600, 20 * 3600)
    samples = ",".join(f'{{"ts":{start_s + i},"power_w":1e5,"energy_wh":1e5}}' for i in range(2700))
    payload = f'{{"v":1,"device_id":"{device}","samples":[{samples}]}}'.encode()
    assert len(payload) <= LIMIT_BYTES < len(orjson.dumps(orjson.loads(payload)))
    return _msg(device, payload, "oversized", STORE)


def k_oversized(c: _Ctx) -> Message:
    if c.rng.random() < 0.1:
        return _inflating(c)
    device = c.fuzz_device()
    size = c.rng.choice([LIMIT_BYTES + 1, LIMIT_BYTES + 1, 200 * 1024, 200 * 1024, LIMIT_BYTES, LIMIT_BYTES,
                         1024 * 1024])
    expect = STORE if size <= LIMIT_BYTES else REJECT
    if expect == REJECT:
        device = c.target()
    text = orjson.dumps(c.valid_body(device))
    pad = size - len(text) - len(b',"padding":""')
    payload = text[:-1] + b',"padding":"' + b"x" * pad + b'"}'
    assert len(payload) == size
    return _msg(device, payload, "oversized", expect)


def k_many_samples(c: _Ctx) -> Message:
    """Tiny samples (epoch seconds, one-digit power) so thousands fit under 128 KB: 3601 is over the limit."""
    n = c.rng.choice([LIMIT_SAMPLES - 1, LIMIT_SAMPLES, LIMIT_SAMPLES + 1, 3700])
    expect = STORE if n <= LIMIT_SAMPLES else REJECT
    device = c.fuzz_device() if expect == STORE else c.target()
    start_s = c.now_ms // 1000 - c.rng.randrange(2 * 3600, 20 * 3600)
    samples = [{"ts": start_s + i, "power_w": c.rng.randrange(10)} for i in range(n)]
    return _msg(device, {"v": 1, "device_id": device, "samples": samples}, "many_samples", expect)


def k_empty(c: _Ctx) -> Message:
    return _msg(c.target(), c.rng.choice([b"", b" ", b"{}", b"[]", b"null", b"\x00"]), "empty", REJECT)


def k_duplicate_keys(c: _Ctx) -> Message:
    """Duplicate keys: orjson keeps the last; other parsers may keep the first. Never on honest topics."""
    device = c.fuzz_device()
    other = c.rng.choice([d for d in FUZZ_DEVICES if d != device])
    sample = orjson.dumps(c.valid_samples(1)[0]).decode()
    variants = [
        (f'{{"v":2,"v":1,"device_id":"{device}","samples":[{sample}]}}', EITHER),
        (f'{{"v":1,"v":2,"device_id":"{device}","samples":[{sample}]}}', EITHER),
        (f'{{"v":1,"device_id":"{other}","device_id":"{device}","samples":[{sample}]}}', EITHER),
        (f'{{"v":1,"device_id":"{device}","device_id":"{other}","samples":[{sample}]}}', EITHER),
        (f'{{"v":1,"device_id":"{device}","samples":"x","samples":[{sample}]}}', EITHER),
        (f'{{"v":1,"device_id":"{device}","samples":[{sample}],"samples":[]}}', EITHER),
        (f'{{"v":1,"device_id":"{device}","samples":[{sample[:-1]},"ts":"x"}}]}}', EITHER),
    ]
    text, expect = c.rng.choice(variants)
    return _msg(device, text.encode(), "duplicate_keys", expect)


def k_poisoned_honest(c: _Ctx) -> Message:
    """An honest device's real timestamps with wrong counters, plus one bad sample: all of it must go."""
    device = c.honest_device()
    n = c.rng.randrange(0, 50)
    samples = [dict(honest_sample(device, c.t0_ms, i), energy_wh=device.e0_wh + 1e6 + i)
               for i in range(n * 10, n * 10 + 5)]
    bad = c.rng.choice([{"ts": "2026-13-45T00:00:00Z", "energy_wh": 1.0}, {"ts": iso(c.now_ms), "power_w": 9e9},
                        {"ts": iso(c.now_ms), "energy_wh": -1.0}, {"ts": iso(c.now_ms), "power_w": "1"},
                        {"ts": iso(c.now_ms)}, {"ts": 1e300, "energy_wh": 1.0}, "sample",
                        {"ts": iso(c.now_ms + 86_400_000), "energy_wh": 1.0}])
    samples.insert(c.rng.randrange(len(samples) + 1), bad)  # type: ignore[arg-type]
    body = {"v": 1, "device_id": device.device_id, "seq": n, "samples": samples}
    return _msg(device.device_id, body, "poisoned_honest", REJECT)


def k_replay(c: _Ctx) -> Message:
    """An honest message delivered again (QoS 1 redelivery, a device retrying): harmless by invariant 3."""
    if not c.sent_honest:
        return k_valid_fuzz(c)
    original = c.rng.choice(c.sent_honest)
    return Message(original.topic, original.payload, "replay", STORE)


def k_nul_payload(c: _Ctx) -> Message:
    device = c.target()
    text = orjson.dumps(c.valid_body(device))
    variants = [text.replace(b'"v":1', b'"v":1\x00'), text + b"\x00", b"\x00" + text,
                text.replace(b'"samples"', b'"sam\\u0000ples"').replace(b'"seq"', b'"samples":[],"seq"')]
    return _msg(device, c.rng.choice(variants), "nul_payload", REJECT)


def k_valid_fuzz(c: _Ctx) -> Message:
    device = c.fuzz_device()
    return _msg(device, c.valid_body(device, c.rng.randrange(1, 12)), "valid_fuzz", STORE)


# kind → (generator, weight). Heavy kinds (≈1 MB payloads, thousands of samples) are rare on purpose.
KINDS: dict[str, tuple[Any, float]] = {
    "random_bytes": (k_random_bytes, 8), "truncated_json": (k_truncated_json, 8), "deep_extra": (k_deep_extra, 5),
    "deep_body": (k_deep_body, 3), "huge_numbers": (k_huge_numbers, 7), "inf_nan": (k_inf_nan, 3),
    "absurd_ts": (k_absurd_ts, 9), "far_apart": (k_far_apart, 0.3), "wrong_types": (k_wrong_types, 10),
    "unicode_ids": (k_unicode_ids, 5), "bad_topics": (k_bad_topics, 2), "spoofed": (k_spoofed, 6),
    "oversized": (k_oversized, 0.4), "many_samples": (k_many_samples, 0.3), "empty": (k_empty, 3),
    "duplicate_keys": (k_duplicate_keys, 3), "poisoned_honest": (k_poisoned_honest, 3), "replay": (k_replay, 2),
    "nul_payload": (k_nul_payload, 1.5), "valid_fuzz": (k_valid_fuzz, 5),
}


def generate(seed: int, hostile: int, honest_per_device: int, now_ms: int,
             kinds: dict[str, tuple[Any, float]] | None = None) -> tuple[list[Message], int]:
    """``hostile`` hostile messages with the honest series (messages 0 .. honest_per_device-1 of each honest
    device, in order) spread evenly among them; the same seed and ``now_ms`` give the same bytes.

    Returns the messages and the honest series' start (``t0_ms``), which the final batch continues. Every kind
    appears at least once when ``hostile`` is at least the number of kinds.
    """
    rng = random.Random(seed)
    kinds = kinds or KINDS
    t0 = honest_t0_ms(now_ms, honest_per_device + 10)  # room for a final batch after the hostile messages
    ctx = _Ctx(rng, now_ms, t0)
    names = list(kinds)
    weights = [kinds[n][1] for n in names]
    chosen = names[:hostile] + rng.choices(names, weights, k=max(0, hostile - len(names)))
    rng.shuffle(chosen)
    honest = deque(honest_messages(t0, 0, honest_per_device))
    every = hostile / len(honest) if honest else 0
    out: list[Message] = []
    for i, name in enumerate(chosen):
        while honest and (len(HONEST) * honest_per_device - len(honest)) * every <= i:
            msg = honest.popleft()
            ctx.sent_honest.append(msg)
            out.append(msg)
        out.append(kinds[name][0](ctx))
    out.extend(honest)
    ctx.sent_honest.extend(honest)
    return out, t0


# ------------------------------------------------------------------------------------------------ publishing


def _mqtt_string(data: bytes) -> bytes:
    return struct.pack("!H", len(data)) + data


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def raw_publish(port: int, topic_bytes: bytes, payload: bytes, client_id: str, timeout_s: float = 5.0) -> bool:
    """MQTT 3.1.1 over a bare socket: CONNECT, PUBLISH QoS 1, and True only if the broker sends the PUBACK."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        var = _mqtt_string(b"MQTT") + bytes([4, 0x02]) + struct.pack("!H", 30) + _mqtt_string(client_id.encode())
        sock.sendall(bytes([0x10]) + _remaining_length(len(var)) + var)
        if sock.recv(4)[:1] != b"\x20":
            return False
        body = _mqtt_string(topic_bytes) + struct.pack("!H", 1) + payload
        try:
            sock.sendall(bytes([0x32]) + _remaining_length(len(body)) + body)
            reply = b""
            while len(reply) < 4:
                chunk = sock.recv(4 - len(reply))
                if not chunk:
                    return False  # the broker closed the connection: refused
                reply += chunk
        except (ConnectionError, TimeoutError, OSError):
            return False
        return reply == b"\x40\x02\x00\x01"


class Publisher:
    """Paho (QoS 1, bounded in-flight window) for what paho can send, a raw socket for the rest."""

    def __init__(self, port: int, client_id: str = "fuzz-publisher", window: int = 1000) -> None:
        import paho.mqtt.client as mqtt

        self.port = port
        self.window = window
        self.disconnects = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        connected = threading.Event()
        self.client.on_connect = lambda *a: connected.set()
        self.client.on_disconnect = lambda *a: self._disconnected()
        self.client.connect("127.0.0.1", port, keepalive=60)
        self.client.loop_start()
        if not connected.wait(15):
            raise CampaignError(f"the publisher could not connect to 127.0.0.1:{port}")
        self._raw_ids = 0

    def _disconnected(self) -> None:
        self.disconnects += 1

    def publish(self, messages: list[Message], timeout_s: float = 120.0) -> list[bool]:
        """Publish in order; for each message, did the broker acknowledge it (PUBACK)?"""
        acked: list[bool] = [False] * len(messages)
        pending: deque[tuple[int, Any]] = deque()

        def settle(index: int, info: Any) -> None:
            info.wait_for_publish(timeout_s)
            acked[index] = info.is_published()

        for i, msg in enumerate(messages):
            if msg.raw:
                self._raw_ids += 1
                acked[i] = raw_publish(self.port, msg.topic_bytes, msg.payload, f"fuzz-raw-{self._raw_ids}")
                continue
            pending.append((i, self.client.publish(msg.topic_bytes.decode("utf-8"), msg.payload, qos=1)))
            while len(pending) > self.window:
                settle(*pending.popleft())
        while pending:
            settle(*pending.popleft())
        return acked

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


# ---------------------------------------------------------------------------------------------- the runtime


class CampaignError(AssertionError):
    """The campaign could not go on (the runtime died, ingestion stalled): the message says what was seen."""


@dataclass
class RuntimeProcess:
    """``python -m energymon.runtimes.cli run`` against ``broker_url``, on its own data directory."""

    data_dir: Path
    broker_url: str
    log_path: Path
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    _log: Any = None

    def start(self, timeout_s: float = 60.0) -> RuntimeProcess:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        cmd = [sys.executable, "-m", "energymon.runtimes.cli", "run", "--data-dir", str(self.data_dir), "--no-live",
               "--broker", self.broker_url, "--simulate", "0", "--batching-window", "1", "--web-port", "0",
               *self.extra_args]
        # Dead letters are bounded by size (64 MB by default, oldest trimmed): the campaign keeps them all so
        # that it can count them.
        env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="200", ENERGYMON_DEAD_LETTER_MAX_MB="100000")
        self.process = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CampaignError(f"the runtime exited with {self.process.returncode}:\n{self.output()}")
            info = self.info()
            if info and info.get("pid") == self.process.pid:
                return self
            time.sleep(0.1)
        raise CampaignError(f"the runtime was not ready after {timeout_s} s:\n{self.output()}")

    def info(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.data_dir / "runtime.json").read_text())  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self, tail: int | None = None) -> str:
        if self._log:
            self._log.flush()
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return text[-tail:] if tail else text

    def health(self) -> tuple[int, dict[str, Any]]:
        """``GET /healthz``: (HTTP status, body)."""
        info = self.info() or {}
        url = str(info.get("web_url") or "").rstrip("/") + "/healthz"
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:  # loopback, the runtime's own port
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except (OSError, ValueError) as exc:
            return 0, {"error": str(exc)}

    def stop(self, timeout_s: float = 120.0) -> int:
        """SIGINT (Ctrl-C) and wait: the exit code (the runtime drains the stream before exiting)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.close()
            return -9

    def close(self) -> None:
        if self.process and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        if self._log:
            self._log.close()
            self._log = None


# ------------------------------------------------------------------------------------------------ reading back


def _ro(path: Path) -> sqlite3.Connection | None:
    if not path.exists():
        return None
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)


def shard_name(shard: int) -> str:
    return f"shardId-{shard:012d}"


@dataclass(frozen=True)
class Counts:
    stream: int = 0  # records in stream.db
    lag: int = 0  # records after the processor's checkpoint
    bridge: int = 0  # dead letters by stage
    processor: int = 0
    poller: int = 0
    trimmed: int = 0  # dead letters dropped by the store's bounds (must stay 0 here)

    @property
    def settled(self) -> int:
        """Messages the bridge has settled: in the stream or dead-lettered by it."""
        return self.stream + self.bridge


def counts(data_dir: Path) -> Counts:
    values: dict[str, int] = {}
    con = _ro(data_dir / "stream.db")
    if con is not None:
        try:
            values["stream"] = con.execute("SELECT COUNT(*) FROM records").fetchone()[0]
            values["lag"] = con.execute(
                "SELECT COUNT(*) FROM records r LEFT JOIN checkpoints c ON c.shard = r.shard AND "
                "c.consumer = 'processor' WHERE r.seq > COALESCE(c.seq, 0)").fetchone()[0]
        except sqlite3.OperationalError:
            pass
        finally:
            con.close()
    con = _ro(data_dir / "deadletters.db")
    if con is not None:
        try:
            for stage, n in con.execute("SELECT stage, COUNT(*) FROM dead_letters GROUP BY stage"):
                values[stage] = n
            with contextlib.suppress(sqlite3.OperationalError):
                row = con.execute("SELECT value FROM dead_letter_counts WHERE name='trimmed'").fetchone()
                values["trimmed"] = row[0] if row else 0
        except sqlite3.OperationalError:
            pass
        finally:
            con.close()
    return Counts(**{k: v for k, v in values.items() if k in Counts.__dataclass_fields__})


def store_readings(data_dir: Path) -> dict[str, set[int]]:
    con = _ro(data_dir / "store.db")
    out: dict[str, set[int]] = defaultdict(set)
    if con is None:
        return out
    try:
        for device, minute, data in con.execute("SELECT device, minute, data FROM samples"):
            out[device].update(minute + offset for offset in MinuteReadings.unpack(minute, data).offsets)
    finally:
        con.close()
    return out


def query_energy(data_dir: Path, device: str, t0_ms: int, end_ms: int) -> tuple[int, int]:
    """What a user sees: ``energymon query --resolution day --format json`` → (mWh, samples)."""
    start = time.strftime("%Y-%m-%d", time.gmtime(t0_ms // 1000 - 86_400))
    end = time.strftime("%Y-%m-%d", time.gmtime(end_ms // 1000 + 2 * 86_400))
    out = subprocess.run(
        [sys.executable, "-m", "energymon.runtimes.cli", "query", "--device", device, "--data-dir", str(data_dir),
         "--from", start, "--to", end, "--resolution", "day", "--format", "json"],
        capture_output=True, timeout=120, check=False,
    )
    if out.returncode != 0:
        raise CampaignError(f"energymon query --device {device} failed: {out.stderr.decode(errors='replace')}")
    periods = orjson.loads(out.stdout)["periods"]
    return round(sum(p["import_kwh"] for p in periods) * 1_000_000), sum(p["samples"] for p in periods)


# ---------------------------------------------------------------------------------------------- accounting


def _key(device: str | None, body: Any) -> tuple[str | None, bytes] | None:
    """A message and its stream record compare equal by this (the bridge stamps the topic's device id)."""
    if not isinstance(body, dict):
        return None
    body = dict(body)
    body.pop("topic_device_id", None)
    try:
        return device, orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        # An extra member nested deeper than orjson writes: the fields the pipeline reads still tell it apart.
        try:
            core = {k: body.get(k) for k in ("v", "device_id", "seq", "samples")}
            return device, orjson.dumps(core, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            return None


def _message_key(msg: Message) -> tuple[str | None, bytes] | None:
    try:
        parts = msg.topic_bytes.decode("utf-8").split("/")
        return _key(parts[1], orjson.loads(msg.payload))
    except (UnicodeDecodeError, orjson.JSONDecodeError, IndexError):
        return None


@dataclass
class Accounting:
    """What became of every message, and every broken promise found (``problems`` empty: all kept)."""

    problems: list[str] = field(default_factory=list)
    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    counts: Counts = field(default_factory=Counts)
    sent: int = 0  # acknowledged by the broker on a topic the bridge subscribes to
    refused: int = 0  # not acknowledged by the broker (refused topics), so not the pipeline's to count
    unsubscribed: int = 0  # acknowledged on a topic the bridge does not subscribe to
    undecodable: list[str] = field(default_factory=list)  # catch-all rejections: an exception was the reason
    honest: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)  # mWh, samples: got, expected

    def table(self) -> str:
        lines = [f"{'kind':16s} {'sent':>6s}  outcomes"]
        for kind in sorted(self.outcomes):
            row = self.outcomes[kind]
            lines.append(f"{kind:16s} {sum(row.values()):6d}  " + ", ".join(f"{k} {v}" for k, v in row.most_common()))
        return "\n".join(lines)


@dataclass
class _ReadBack:
    """The data directory's dead letters and stream records, cross-referenced."""

    bridge_letters: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    records: dict[tuple[str | None, bytes], list[str]] = field(default_factory=lambda: defaultdict(list))
    expected_readings: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    orphan_letters: list[str] = field(default_factory=list)  # processor dead letters naming no stream record
    problems: list[str] = field(default_factory=list)
    undecodable: list[str] = field(default_factory=list)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_back(data_dir: Path) -> _ReadBack:
    from energymon.domain.reading import parse_ts  # the project's own reading of a timestamp

    rb = _ReadBack()
    processor_letters: dict[str, str] = {}
    con = _ro(data_dir / "deadletters.db")
    if con is not None:
        try:
            for stage, code, reason, source, payload, detail in con.execute(
                    "SELECT stage, code, reason, source, payload, detail FROM dead_letters ORDER BY id"):
                if not str(reason).strip():
                    rb.problems.append(f"a {stage} dead letter ({code}) has no reason")
                if code == "undecodable":
                    rb.undecodable.append(f"{stage}: {reason}")
                if stage == "bridge":
                    # A large rejected payload is kept as a prefix with the whole payload's SHA-256.
                    digest = orjson.loads(detail or b"{}").get("payload_sha256") or _sha256(bytes(payload))
                    rb.bridge_letters[(source, digest)].append(code)
                else:
                    processor_letters[source] = f"{stage}:{code}"
        except sqlite3.OperationalError:
            pass
        finally:
            con.close()
    con = _ro(data_dir / "stream.db")
    if con is not None:
        try:
            for shard, seq, data in con.execute("SELECT shard, seq, data FROM records ORDER BY shard, seq"):
                event_id = f"{shard_name(shard)}:{seq}"
                body = orjson.loads(data)
                device = body.get("topic_device_id")
                outcome = processor_letters.pop(event_id, None) or "stored"
                if outcome == "stored":
                    try:
                        rb.expected_readings[device].update(parse_ts(s["ts"]) for s in body["samples"])
                    except Exception as exc:  # noqa: BLE001 - reported, not raised
                        rb.problems.append(f"stream record {event_id} was neither dead-lettered nor decodable "
                                           f"({type(exc).__name__}: {exc}): {bytes(data)[:200]!r}")
                rb.records[_key(device, body) or (device, bytes(data))].append(outcome)
        except sqlite3.OperationalError:
            pass
        finally:
            con.close()
    rb.orphan_letters = sorted(processor_letters)
    return rb


def _outcomes(to_bridge: list[Message], rb: _ReadBack) -> list[str]:
    """Where each message ended: ``bridge:<code>``, ``processor:<code>``, ``poller:<code>``, ``stored`` or
    ``vanished`` (in neither the stream nor the dead letters). Consumes ``rb``'s letters and records."""
    out = []
    for msg in to_bridge:
        codes = rb.bridge_letters.get((msg.topic_bytes.decode("utf-8"), _sha256(msg.payload)))
        if codes:
            out.append(f"bridge:{codes.pop(0)}")
            continue
        key = _message_key(msg)
        seen = rb.records.get(key) if key else None
        out.append(seen.pop(0) if seen else "vanished")
    return out


def vanished(data_dir: Path, messages: list[Message], acked: list[bool]) -> list[Message]:
    """The acknowledged messages that are neither in the stream nor dead-lettered (so far), in publish order."""
    to_bridge = [m for m, ok in zip(messages, acked, strict=True) if ok and m.for_bridge()]
    outcomes = _outcomes(to_bridge, _read_back(data_dir))
    return [m for m, o in zip(to_bridge, outcomes, strict=True) if o == "vanished"]


def account(data_dir: Path, messages: list[Message], acked: list[bool], honest_readings: dict[str, int],
            t0_ms: int, devices: tuple[HonestDevice, ...] = HONEST) -> Accounting:
    """Read back stream.db, deadletters.db and store.db after the runtime has stopped; check every promise."""
    acc = Accounting(counts=counts(data_dir))
    c = acc.counts
    to_bridge: list[Message] = []
    for msg, ok in zip(messages, acked, strict=True):
        if not ok:
            acc.refused += 1
            acc.outcomes[msg.kind]["refused by the broker"] += 1
        elif not msg.for_bridge():
            acc.unsubscribed += 1
            acc.outcomes[msg.kind]["not subscribed (broker acked)"] += 1
        else:
            to_bridge.append(msg)
    acc.sent = len(to_bridge)
    rb = _read_back(data_dir)
    acc.problems.extend(rb.problems)
    acc.undecodable = rb.undecodable

    # 1. The bridge: every acknowledged message is a stream record or a bridge dead letter, exactly once.
    if c.trimmed:
        acc.problems.append(f"{c.trimmed} dead letters were trimmed: the accounting below cannot be exact")
    if c.stream + c.bridge != acc.sent:
        acc.problems.append(f"bridge: the broker acknowledged {acc.sent} messages for it, but the stream holds "
                            f"{c.stream} records and the bridge dead-lettered {c.bridge} "
                            f"({c.stream + c.bridge - acc.sent:+d})")

    # 2. The stream: every record is processed (all its readings in the store) or dead-lettered by the
    # processor (or given up on by the poller), and the processor's checkpoint is at the end.
    if c.lag:
        acc.problems.append(f"stream: {c.lag} records were never settled by the processor (lag {c.lag})")
    if rb.orphan_letters:
        acc.problems.append(f"{len(rb.orphan_letters)} processor/poller dead letters name no stream record: "
                            f"{rb.orphan_letters[:5]}")
    stored = store_readings(data_dir)
    for device in sorted(set(rb.expected_readings) | set(stored)):
        missing = rb.expected_readings.get(device, set()) - stored.get(device, set())
        extra = stored.get(device, set()) - rb.expected_readings.get(device, set())
        if missing:
            acc.problems.append(f"store: {len(missing)} readings of {device!r} from processed records are missing "
                                f"(first at {iso(min(missing))})")
        if extra:
            acc.problems.append(f"store: {len(extra)} readings of {device!r} come from no processed record, e.g. "
                                f"from a rejected message (first at {iso(min(extra))})")

    # 3. Each message: where did it end, and is that what the contract says?
    wrong: Counter[str] = Counter()
    examples: dict[str, Message] = {}
    for msg, outcome in zip(to_bridge, _outcomes(to_bridge, rb), strict=True):
        acc.outcomes[msg.kind][outcome] += 1
        if outcome == "vanished" or (msg.expect == REJECT and outcome == "stored") or \
                (msg.expect == STORE and outcome != "stored"):
            label = f"{msg.kind} (expected {msg.expect}) → {outcome}"
            wrong[label] += 1
            examples.setdefault(label, msg)
    for label, n in wrong.most_common():
        acc.problems.append(f"{n} × {label}; e.g. {examples[label].describe()}")

    # 4. The honest devices: exact energy and sample count, as a user queries them.
    end_ms = t0_ms + max(honest_readings.values(), default=0) * 1000
    for device in devices:
        n = honest_readings.get(device.device_id, 0)
        try:
            mwh, samples = query_energy(data_dir, device.device_id, t0_ms, end_ms)
        except CampaignError as exc:
            acc.problems.append(str(exc))
            continue
        acc.honest[device.device_id] = (mwh, device.expected_mwh(n), samples, n)
        if (mwh, samples) != (device.expected_mwh(n), n):
            acc.problems.append(f"{device.device_id}: {mwh} mWh from {samples} samples, expected "
                                f"{device.expected_mwh(n)} mWh from {n} samples")
    return acc


# ----------------------------------------------------------------------------------------------- campaign


@dataclass
class Campaign:
    """One run: publish, wait until settled (bounded), a final honest batch (bounded), health, stop, account."""

    data_dir: Path
    broker_port: int
    log_path: Path
    settle_timeout_s: float = 60.0
    final_timeout_s: float = 30.0
    stall_s: float = 20.0  # no change in the counts for this long while not settled: stalled
    figures: dict[str, float] = field(default_factory=dict)
    accounting: Accounting | None = None
    runtime: RuntimeProcess | None = None
    health_after: tuple[int, dict[str, Any]] | None = None
    exit_code: int | None = None

    def wait_settled(self, sent: int, timeout_s: float, what: str, messages: list[Message] | None = None,
                     acked: list[bool] | None = None) -> float:
        """Until the bridge has settled ``sent`` messages and the processor has caught up; the time it took."""
        assert self.runtime is not None
        started = moved = time.monotonic()
        last = Counts()
        while time.monotonic() - started < timeout_s and time.monotonic() - moved < self.stall_s:
            now = counts(self.data_dir)
            if now.settled >= sent and "bridge_settled_s" not in self.figures:
                self.figures["bridge_settled_s"] = time.monotonic() - started
            if now.settled >= sent and now.lag == 0:
                return time.monotonic() - started
            if (now.settled, now.lag) != (last.settled, last.lag):
                moved = time.monotonic()
            last = now
            if not self.runtime.alive():
                break
            time.sleep(0.25)
        proc = self.runtime.process
        state = "still running" if self.runtime.alive() else f"exited with {proc.returncode if proc else '?'}"
        hint = ""
        if messages is not None and acked is not None:
            lost = vanished(self.data_dir, messages, acked)
            kinds = Counter(m.kind for m in lost)
            hint = (f"\nunaccounted so far: {len(lost)} messages, by kind {dict(kinds.most_common())}; first: "
                    + "; ".join(m.describe(100) for m in lost[:3]))
        raise CampaignError(
            f"{what}: not settled after {time.monotonic() - started:.0f} s (bounded wait {timeout_s:.0f} s, "
            f"{time.monotonic() - moved:.0f} s without progress) — "
            f"the broker acknowledged {sent} messages for the bridge; the stream holds {last.stream} records and "
            f"the bridge dead-lettered {last.bridge} ({sent - last.settled} unaccounted); processor lag "
            f"{last.lag}; runtime {state}.{hint}\n--- runtime log (tail) ---\n{self.runtime.output(tail=6000)}")


def run_campaign(data_dir: Path, broker_url: str, broker_port: int, messages: list[Message], t0_ms: int,
                 honest_per_device: int, *, devices: tuple[HonestDevice, ...] = HONEST, final_per_device: int = 10,
                 settle_timeout_s: float = 60.0, final_timeout_s: float = 30.0, stall_s: float = 20.0,
                 log_path: Path | None = None) -> Campaign:
    """Run ``messages`` through the real runtime; then a final batch of ``devices``' series; then account.

    Raises :class:`CampaignError` when the runtime dies or ingestion stalls (after the bounded waits), with
    the counts and the runtime's log (the runtime is killed); otherwise returns the campaign with its
    accounting (``accounting.problems`` lists every broken promise) and figures.
    """
    camp = Campaign(data_dir, broker_port, log_path or data_dir.parent / "runtime.log", settle_timeout_s,
                    final_timeout_s, stall_s)
    runtime = camp.runtime = RuntimeProcess(data_dir, broker_url, camp.log_path)
    try:
        runtime.start()
        publisher = Publisher(broker_port)
        try:
            t_start = time.monotonic()
            acked = publisher.publish(messages)
            t_acked = time.monotonic()
            sent = sum(1 for m, ok in zip(messages, acked, strict=True) if ok and m.for_bridge())
            camp.wait_settled(sent, settle_timeout_s, "after the hostile messages", messages, acked)
            t_settled = time.monotonic()
            # The final batch: ingestion must not have stalled behind anything that came before.
            final = honest_messages(t0_ms, honest_per_device, final_per_device, devices)
            final_acked = publisher.publish(final)
            if not all(final_acked):
                raise CampaignError("the broker did not acknowledge the final honest batch")
            t_final = time.monotonic()
            want = {d.device_id: (honest_per_device + final_per_device) * SAMPLES_PER_MESSAGE for d in devices}

            def complete() -> bool:
                stored = store_readings(data_dir)
                return all(len(stored.get(d, ())) >= n for d, n in want.items())

            while not complete() and runtime.alive() and time.monotonic() - t_final < final_timeout_s:
                time.sleep(0.2)
            if not complete():
                stored = store_readings(data_dir)
                got = {d: len(stored.get(d, ())) for d in want}
                raise CampaignError(
                    f"ingestion stalled: the final honest batch was not stored within {final_timeout_s:.0f} s "
                    f"(readings {got}, expected {want}); runtime {'running' if runtime.alive() else 'exited'}\n"
                    f"{runtime.output(tail=6000)}")
            t_stored = time.monotonic()
            camp.health_after = runtime.health()
            if publisher.disconnects:
                raise CampaignError(f"the broker disconnected the publisher {publisher.disconnects} time(s)")
        finally:
            publisher.close()
        camp.exit_code = runtime.stop()
    finally:
        runtime.close()
    camp.accounting = account(data_dir, [*messages, *final], [*acked, *final_acked], want, t0_ms, devices)
    status, body = camp.health_after
    if status != 200 or body.get("status") != "ok":
        camp.accounting.problems.append(f"/healthz answered {status} after the campaign: {json.dumps(body)[:1500]}")
    if camp.exit_code != 0:
        camp.accounting.problems.append(f"the runtime exited with {camp.exit_code} on Ctrl-C:\n"
                                        f"{runtime.output(tail=3000)}")
    camp.figures |= {"messages": len(messages), "sent": sent, "publish_s": t_acked - t_start,
                    "settled_s": t_settled - t_start, "final_batch_s": t_stored - t_final,
                    "msgs_per_s": sent / (t_settled - t_start)}
    return camp
