"""The canonical reading and the v1 wire format (see ARCHITECTURE.md, "Wire format")."""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

import orjson

from energymon.errors import ConfigError, RejectedReading

__all__ = [
    "BASIC_INGEST_RULE_PATTERN",
    "check_basic_ingest_rule",
    "with_basic_ingest",
    "EARLIEST_TS_MS",
    "FUTURE_SLACK_MS",
    "MAX_MESSAGE_BYTES",
    "MAX_READING_AGE_MS",
    "MAX_RECORD_BYTES",
    "MAX_SAMPLES_PER_MESSAGE",
    "PLAUSIBLE_POWER_W",
    "check_body",
    "check_ts",
    "DEVICE_ID_PATTERN",
    "Reading",
    "decode_body",
    "decode_message",
    "parse_payload",
    "encode_message",
    "format_ts",
    "make_reading",
    "parse_ts",
    "telemetry_topic",
    "device_from_topic",
]

# IoT Core's payload limit; the bridge and the processor both enforce it.
MAX_MESSAGE_BYTES = 128 * 1024
# A stream record is the message plus the stamp the topic rule (or the bridge) adds: `"topic_device_id":
# "<id>"`, at most 150 bytes for a 128-character id. A message at the limit must still fit its record.
MAX_RECORD_BYTES = MAX_MESSAGE_BYTES + 256
MAX_SAMPLES_PER_MESSAGE = 3600
DEVICE_ID_PATTERN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}\Z")  # \Z: "$" would accept a trailing newline
PLAUSIBLE_POWER_W = 1_000_000.0  # one megawatt: no apartment meter reports more
EARLIEST_TS_MS = 946_684_800_000  # 2000-01-01: clocks before this are unset, not historic
FUTURE_SLACK_MS = 5 * 60_000  # a device clock may run this far ahead of the pipeline's
# How old a reading may be when it arrives. Longer than the device agent keeps a backlog (30 days), so
# nothing an agent legitimately delivers late is refused; short enough that one reading can never make
# the processor recompute (or flag as a gap) more than a month of a device's history.
MAX_READING_AGE_MS = 35 * 86_400_000
_LATEST_EPOCH_S = 32_503_680_000  # year 3000: a number beyond this is not an epoch in seconds
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True, slots=True)
class Reading:
    """One sample from one meter. ``ts_ms`` is milliseconds since the epoch (UTC)."""

    device_id: str
    ts_ms: int
    power_w: float | None = None
    energy_wh: float | None = None
    export_wh: float | None = None
    voltage_v: float | None = None
    current_a: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"device_id": self.device_id, "ts": format_ts(self.ts_ms)}
        for name in ("power_w", "energy_wh", "export_wh", "voltage_v", "current_a"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


_new_object = object.__new__
(_set_device, _set_ts, _set_power, _set_energy, _set_export, _set_voltage, _set_current) = (
    Reading.__dict__[name].__set__
    for name in ("device_id", "ts_ms", "power_w", "energy_wh", "export_wh", "voltage_v", "current_a")
)


def make_reading(device_id: str, ts_ms: int, power_w: float | None = None, energy_wh: float | None = None,
                 export_wh: float | None = None, voltage_v: float | None = None,
                 current_a: float | None = None) -> Reading:
    """``Reading(...)`` for values already validated, at half the cost: the frozen dataclass's ``__init__``
    goes through ``object.__setattr__`` for each field, this sets the slots directly (the hot paths build
    one per sample, and the store one per row read back)."""
    reading: Reading = _new_object(Reading)
    _set_device(reading, device_id)
    _set_ts(reading, ts_ms)
    _set_power(reading, power_w)
    _set_energy(reading, energy_wh)
    _set_export(reading, export_wh)
    _set_voltage(reading, voltage_v)
    _set_current(reading, current_a)
    return reading


BASIC_INGEST_RULE_PATTERN = r"^[a-zA-Z0-9_]{1,128}$"  # an IoT rule name: what $aws/rules/<rule>/ may hold


def check_basic_ingest_rule(name: str) -> str:
    """``name`` if it can follow ``$aws/rules/`` (an IoT rule name), or a ConfigError saying where to find it."""
    if not re.fullmatch(BASIC_INGEST_RULE_PATTERN, name):
        raise ConfigError(f"basic ingest rule {name!r} is not an IoT rule name: 1–128 letters, digits or '_', "
                          "no '-' or '/' (Terraform output iot_topic_rule_name)")
    return name


def with_basic_ingest(topic: str, basic_ingest_rule: str | None) -> str:
    """``topic`` itself, or with ``basic_ingest_rule`` its Basic Ingest form, which invokes that IoT rule without the
    message broker (AWS IoT Core: no messaging charge; the prefix is invisible to the rule's ``topic()``)."""
    return f"$aws/rules/{basic_ingest_rule}/{topic}" if basic_ingest_rule else topic


def telemetry_topic(device_id: str, basic_ingest_rule: str | None = None) -> str:
    return with_basic_ingest(f"energy/{device_id}/telemetry", basic_ingest_rule)


def device_from_topic(topic: str) -> str | None:
    parts = topic.split("/")
    if len(parts) == 6 and parts[:2] == ["$aws", "rules"] and parts[2]:
        parts = parts[3:]  # as IoT Core's topic() sees a Basic Ingest topic: from the level after the rule
    if len(parts) == 3 and parts[0] == "energy" and parts[2] == "telemetry" and parts[1]:
        return parts[1]
    return None


@lru_cache(maxsize=4096)
def _epoch_day(date_text: str) -> int | None:
    """Days since 1970-01-01 of a ``YYYY-MM-DD`` string, or None when it is not a real date."""
    try:
        return date.fromisoformat(date_text).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return None


_CANONICAL_TS = re.compile(r"(\d{4}-\d\d-\d\d)T([01]\d|2[0-3]):([0-5]\d):([0-5]\d)\.(\d{3})Z", re.ASCII)
_CANONICAL_MINUTE = re.compile(r"(\d{4}-\d\d-\d\d)T([01]\d|2[0-3]):([0-5]\d)", re.ASCII)
# Exact spellings only, so a lookup validates as the regex does: "+1", " 1" or non-ASCII digits are misses.
_SECOND_MS = {f"{s:02d}": s * 1000 for s in range(60)}
_MILLI = {f"{m:03d}": m for m in range(1000)}
# "YYYY-MM-DDTHH:MM" -> epoch ms of that minute (None: not a real minute). At 1 Hz, 60 samples share an entry.
_MINUTES: dict[str, int | None] = {}
_MINUTES_MAX = 65_536


def _minute_ms(text: str) -> int | None:
    match = _CANONICAL_MINUTE.fullmatch(text)
    day = None if match is None else _epoch_day(match[1])
    value = None if match is None or day is None else ((day * 24 + int(match[2])) * 60 + int(match[3])) * 60_000
    if len(_MINUTES) >= _MINUTES_MAX:  # scattered timestamps (a fuzzer) must not grow it without end
        _MINUTES.clear()
    _MINUTES[text] = value
    return value


def _fast_utc_ms(value: str) -> int | None:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` — the wire format's own shape — by table look-ups, without a datetime.

    Accepts exactly what ``_CANONICAL_TS`` with a real date accepts; anything else is None (the slow path).
    """
    if len(value) != 24 or value[16] != ":" or value[19] != "." or value[23] != "Z":
        return None
    prefix = value[:16]
    minute = _MINUTES[prefix] if prefix in _MINUTES else _minute_ms(prefix)
    if minute is None:
        return None
    second = _SECOND_MS.get(value[17:19])
    milli = _MILLI.get(value[20:23])
    if second is None or milli is None:
        return None
    return minute + second + milli


def parse_ts(value: object) -> int:
    """ISO-8601 with a zone (or epoch seconds) to epoch milliseconds."""
    if isinstance(value, str):
        fast = _fast_utc_ms(value)
        if fast is not None:
            return fast
    if isinstance(value, bool):
        raise RejectedReading(f"timestamp {value!r} is not a time", "bad_timestamp")
    if isinstance(value, int | float):
        # Bounded before scaling: 1e300 * 1000 is infinite and int() of it raises OverflowError.
        if not math.isfinite(value) or not 0 <= value <= _LATEST_EPOCH_S:
            raise RejectedReading(f"timestamp {value!r} is not a time in epoch seconds", "bad_timestamp")
        return int(round(value * 1000))
    if not isinstance(value, str):
        raise RejectedReading(f"timestamp {value!r} is not an ISO-8601 string", "bad_timestamp")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RejectedReading(f"timestamp {value!r} is not ISO-8601", "bad_timestamp") from None
    if parsed.tzinfo is None:
        raise RejectedReading(
            f"timestamp {value!r} has no time zone (add 'Z' or an offset)", "bad_timestamp"
        )
    # Exact integer arithmetic: float ``timestamp() * 1000`` truncates some milliseconds (x.123 -> x.122).
    try:
        return (parsed - _EPOCH) // timedelta(milliseconds=1)
    except OverflowError:  # year 1 with a positive offset lies before datetime.min in UTC
        raise RejectedReading(f"timestamp {value!r} is out of range", "bad_timestamp") from None


@lru_cache(maxsize=4096)
def _date_text(epoch_day: int) -> str:
    return date.fromordinal(epoch_day + _EPOCH_ORDINAL).isoformat()


@lru_cache(maxsize=4096)
def _minute_text(epoch_minute: int) -> str:
    day, in_day = divmod(epoch_minute, 1440)
    return f"{_date_text(day)}T{in_day // 60:02d}:{in_day % 60:02d}:"


_SECOND_TEXT = tuple(f"{s:02d}." for s in range(60))
_MILLI_TEXT = tuple(f"{m:03d}Z" for m in range(1000))


def format_ts(ts_ms: int) -> str:
    """Epoch ms to ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (look-ups per minute: this is on the archive's hot path)."""
    minute, in_minute = divmod(ts_ms, 60_000)
    return _minute_text(minute) + _SECOND_TEXT[in_minute // 1000] + _MILLI_TEXT[in_minute % 1000]


def check_ts(ts_ms: int, shown: object, now_ms: int | None, where: str = "timestamp") -> int:
    """The plausibility window every decoder applies: set clock, not from the future, not too old.

    ``now_ms`` is when the message reached the pipeline (the bridge's clock, or the stream's arrival
    time in the processor), so a replay days later judges a reading exactly as its first delivery did.
    """
    if ts_ms < EARLIEST_TS_MS:
        raise RejectedReading(f"{where} {shown!r} is before 2000: the device clock is not set", "implausible")
    if now_ms is not None:
        if ts_ms > now_ms + FUTURE_SLACK_MS:
            raise RejectedReading(f"{where} {shown!r} is more than 5 minutes in the future", "implausible")
        if ts_ms < now_ms - MAX_READING_AGE_MS:
            raise RejectedReading(
                f"{where} {shown!r} is more than {MAX_READING_AGE_MS // 86_400_000} days older than its "
                "arrival: too late to be stored", "too_old")
    return ts_ms


def _bad_number(key: str, index: int, value: object) -> RejectedReading:
    return RejectedReading(f"samples[{index}].{key} must be a finite number, got {value!r}", "schema")


def _number(sample: dict[str, Any], key: str, index: int) -> float | None:
    value = sample.get(key)
    if value is None:
        return None
    # ``type(...) in`` rather than isinstance: bool is an int subclass and must be refused.
    if type(value) not in (float, int) or not math.isfinite(value):
        raise _bad_number(key, index, value)
    return float(value)


def _sample(device_id: str, sample: object, index: int, now_ms: int | None) -> Reading:
    if not isinstance(sample, dict):
        raise RejectedReading(f"samples[{index}] must be an object", "schema")
    if "ts" not in sample:
        raise RejectedReading(f"samples[{index}].ts is missing", "schema")
    ts_ms = check_ts(parse_ts(sample["ts"]), sample["ts"], now_ms, f"samples[{index}].ts")
    power = _number(sample, "power_w", index)
    energy = _number(sample, "energy_wh", index)
    if power is None and energy is None:
        raise RejectedReading(f"samples[{index}] needs power_w or energy_wh", "schema")
    if power is not None and abs(power) > PLAUSIBLE_POWER_W:
        raise RejectedReading(f"samples[{index}].power_w {power} W is implausible for a home", "implausible")
    if energy is not None and energy < 0:
        raise RejectedReading(f"samples[{index}].energy_wh {energy} is negative", "implausible")
    export = voltage = current = None
    if len(sample) > 3 - (power is None) - (energy is None):  # optional fields present
        export = _number(sample, "export_wh", index)
        voltage = _number(sample, "voltage_v", index)
        current = _number(sample, "current_a", index)
        if export is not None and export < 0:
            raise RejectedReading(f"samples[{index}].export_wh {export} is negative", "implausible")
    return Reading(device_id, ts_ms, power, energy, export, voltage, current)


def decode_message(
    payload: bytes, topic_device_id: str | None = None, now_ms: int | None = None
) -> list[Reading]:
    """Decode and validate one canonical v1 message; raise :class:`RejectedReading` with the reason."""
    return decode_body(parse_payload(payload), topic_device_id, now_ms)


def parse_payload(payload: bytes, limit: int = MAX_MESSAGE_BYTES) -> Any:
    """Size check and JSON parse: the part of validation every stage shares."""
    if len(payload) > limit:
        raise RejectedReading(f"message is {len(payload)} bytes, over the {limit}-byte limit", "too_large")
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise RejectedReading(f"payload is not JSON ({exc})", "not_json") from None


def decode_body(body: Any, topic_device_id: str | None = None, now_ms: int | None = None) -> list[Reading]:
    """Validate an already-parsed canonical v1 message."""
    device_id, samples = _envelope(body, topic_device_id)
    return _samples(device_id, samples, now_ms, build=True)


def check_body(body: Any, topic_device_id: str | None = None, now_ms: int | None = None) -> str:
    """Every check of :func:`decode_body`, the same rejections, without building the readings (the bridge
    judges a message and forwards its bytes; only the processor needs readings). Returns the device id."""
    device_id, samples = _envelope(body, topic_device_id)
    _samples(device_id, samples, now_ms, build=False)
    return device_id


def _envelope(body: Any, topic_device_id: str | None) -> tuple[str, list[Any]]:
    """The message's own checks: version, device id (against the topic's), samples list, seq."""
    if not isinstance(body, dict):
        raise RejectedReading("payload must be a JSON object", "schema")
    version = body.get("v")
    if isinstance(version, bool) or version != 1:  # True == 1 in Python: a boolean is not a version
        raise RejectedReading(f"unsupported wire format version {body.get('v')!r} (expected 1)", "schema")
    device_id = body.get("device_id")
    if not isinstance(device_id, str) or not DEVICE_ID_PATTERN.fullmatch(device_id):
        raise RejectedReading(f"device_id {device_id!r} is missing or malformed", "schema")
    if topic_device_id is not None and device_id != topic_device_id:
        raise RejectedReading(
            f"device_id {device_id!r} does not match the topic's device {topic_device_id!r}", "spoofed"
        )
    samples = body.get("samples")
    if not isinstance(samples, list) or not samples:
        raise RejectedReading("samples must be a non-empty list", "schema")
    if len(samples) > MAX_SAMPLES_PER_MESSAGE:
        raise RejectedReading(f"{len(samples)} samples in one message, over {MAX_SAMPLES_PER_MESSAGE}", "schema")
    seq = body.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
        raise RejectedReading(f"seq {seq!r} must be a non-negative integer", "schema")
    return device_id, samples


_MAX_FLOAT = sys.float_info.max


def _samples(device_id: str, samples: list[Any], now_ms: int | None, *, build: bool = True) -> list[Reading]:
    """Every sample's reading. A sample of floats with a canonical timestamp inside the window takes the
    fast path: the same checks as ``_sample`` in a few comparisons (a range test also refuses NaN and
    infinities); any other sample, and every rejection with its reason, goes through ``_sample``."""
    lo = EARLIEST_TS_MS if now_ms is None else max(EARLIEST_TS_MS, now_ms - MAX_READING_AGE_MS)
    hi = math.inf if now_ms is None else now_ms + FUTURE_SLACK_MS
    limit = PLAUSIBLE_POWER_W
    out: list[Reading] = []
    append = out.append
    for index, sample in enumerate(samples):
        if type(sample) is dict:
            ts = sample.get("ts")
            power = sample.get("power_w")
            energy = sample.get("energy_wh")
            if (
                type(ts) is str
                and len(sample) == 1 + (power is not None) + (energy is not None)
                and (power is None or (type(power) is float and -limit <= power <= limit))
                and (energy is None or (type(energy) is float and 0.0 <= energy <= _MAX_FLOAT))
                and (power is not None or energy is not None)
            ):
                ts_ms = _fast_utc_ms(ts)
                if ts_ms is not None and lo <= ts_ms <= hi:
                    if build:
                        append(make_reading(device_id, ts_ms, power, energy))
                    continue
        reading = _sample(device_id, sample, index, now_ms)
        if build:
            append(reading)
    return out


def encode_message(device_id: str, seq: int, readings: list[Reading]) -> bytes:
    samples = []
    for r in readings:
        sample = r.to_dict()
        del sample["device_id"]
        samples.append(sample)
    return orjson.dumps({"v": 1, "device_id": device_id, "seq": seq, "samples": samples})
