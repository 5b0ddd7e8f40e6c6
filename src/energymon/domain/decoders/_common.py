"""Helpers every device decoder shares: JSON loading, numbers, zones, clock sanity.

Private to the package: decoders re-validate what they read here, because a device
payload is untrusted input and the canonical checks in :mod:`energymon.domain.reading`
apply only to the canonical wire format.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from energymon.domain import timebuckets
from energymon.domain.reading import DEVICE_ID_PATTERN, MAX_MESSAGE_BYTES, PLAUSIBLE_POWER_W, Reading
from energymon.domain.reading import check_ts as _check_ts
from energymon.errors import ConfigError, RejectedReading

if TYPE_CHECKING:
    from collections.abc import Callable
    from zoneinfo import ZoneInfo


class Decoder(Protocol):
    """The one decoder signature (see the package docstring)."""

    def __call__(self, topic: str, payload: bytes, tz: ZoneInfo | str, *,
                 device_id: str | None = None, now_ms: int | None = None) -> list[Reading]: ...


@dataclass(frozen=True, slots=True)
class Message:
    """One payload to decode and what the caller knows about it; ``zone`` is already resolved."""

    topic: str
    payload: bytes
    zone: ZoneInfo
    device_id: str | None  # the configured / expected id (None: take it from the message)
    now_ms: int | None  # enables the "more than 5 minutes in the future" check


def decoder(parse: Callable[[Message], list[Reading]]) -> Decoder:
    """``parse`` behind the uniform signature: ``tz`` resolved first (a bad name is a ConfigError)."""

    @functools.wraps(parse)
    def decode(topic: str, payload: bytes, tz: ZoneInfo | str, *,
               device_id: str | None = None, now_ms: int | None = None) -> list[Reading]:
        return parse(Message(topic, payload, zone(tz), device_id, now_ms))

    del decode.__wrapped__  # so inspect.signature shows the uniform signature, not parse(msg)
    return decode


@dataclass(frozen=True, slots=True)
class Labels:
    """How a format names its power and counters in a rejection (``ENERGY.Power``, ``1-0:1.8.x import``)."""

    power: str
    energy: str
    export: str = "export counter"


def checked_reading(
    device_id: str,
    ts_ms: int,
    labels: Labels,
    *,
    power_w: float | None,
    energy_wh: float | None,
    export_wh: float | None = None,
    voltage_v: float | None = None,
    current_a: float | None = None,
) -> list[Reading]:
    """The one reading a device message makes, once power and counters pass the plausibility checks."""
    return [
        Reading(
            device_id=device_id,
            ts_ms=ts_ms,
            power_w=check_power(power_w, labels.power),
            energy_wh=check_counter(energy_wh, labels.energy),
            export_wh=check_counter(export_wh, labels.export),
            voltage_v=voltage_v,
            current_a=current_a,
        )
    ]


def zone(tz: ZoneInfo | str) -> ZoneInfo:
    """The device's zone; a bad name is a configuration error, not a bad reading."""
    return timebuckets.zone(tz)


def load_json_object(payload: bytes, what: str) -> dict[str, Any]:
    if len(payload) > MAX_MESSAGE_BYTES:
        raise RejectedReading(
            f"{what} message is {len(payload)} bytes, over the {MAX_MESSAGE_BYTES}-byte limit", "too_large"
        )
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise RejectedReading(f"{what} payload is not JSON ({exc})", "not_json") from None
    if not isinstance(body, dict):
        raise RejectedReading(f"{what} payload must be a JSON object, got {type(body).__name__}", "schema")
    return body


def number(value: object, where: str) -> float:
    """A finite JSON number (bools are not numbers) or a ``schema`` rejection naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RejectedReading(f"{where} must be a finite number, got {value!r}", "schema")
    return float(value)


def optional_number(obj: dict[str, Any], key: str, where: str) -> float | None:
    value = obj.get(key)
    return None if value is None else number(value, f"{where}.{key}")


def check_device_id(device_id: str, source: str) -> str:
    if not DEVICE_ID_PATTERN.match(device_id):
        raise RejectedReading(f"device id {device_id!r} from the {source} is malformed", "bad_topic")
    return device_id


def check_expected(device_id: str, expected: str | None) -> None:
    if expected is not None and device_id != expected:
        raise RejectedReading(f"message is from device {device_id!r} but was expected from {expected!r}", "spoofed")


def check_ts(ts_ms: int, shown: object, now_ms: int | None) -> int:
    """The canonical format's window (reading.check_ts) holds for every decoder: Tasmota reports
    1970-01-01 until NTP syncs, and a relay may hand over a backlog."""
    return _check_ts(ts_ms, shown, now_ms)


def check_power(power_w: float | None, where: str) -> float | None:
    if power_w is not None and abs(power_w) > PLAUSIBLE_POWER_W:
        raise RejectedReading(f"{where} {power_w} W is implausible for a home", "implausible")
    return power_w


def check_counter(value_wh: float | None, where: str) -> float | None:
    if value_wh is not None and value_wh < 0:
        raise RejectedReading(f"{where} {value_wh} Wh is negative: counters only count up", "implausible")
    return value_wh


def local_to_epoch_ms(naive: datetime, tz: ZoneInfo) -> int:
    """Wall-clock time in ``tz`` to epoch ms, deterministically across DST changes.

    An ambiguous time (the repeated hour in autumn) is read as its first occurrence
    (``fold=0``); a time that does not exist (the skipped hour in spring) is read with the
    offset in force before the change, which lands it the length of the gap later on the
    wall clock (02:30 in a skipped 02:00-03:00 becomes 03:30). That is exactly what
    ``zoneinfo`` does for ``fold=0``: no special-casing needed, but the tests pin it.
    """
    aware = naive.replace(tzinfo=tz, fold=0)
    return aware_to_epoch_ms(aware)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def aware_to_epoch_ms(aware: datetime) -> int:
    """Exact integer milliseconds (no float rounding of ``datetime.timestamp``)."""
    return (aware - _EPOCH) // timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Channels:
    """How a multi-channel device (Shelly Pro EM, Plus 2PM, Tasmota dual/3-phase) becomes readings.

    * ``sum`` (default): one device, channels added up (power, counters, current; voltage: the first);
    * ``split``: one device per channel, id ``<device>-ch<N>`` with N the device's own channel number
      (Shelly's component id ``em1:N``/``switch:N``; Tasmota's 1-based POWER<N>/array position);
    * a channel number ``N``: only that channel, under the device's own id (what the agent's relay
      uses: each agent is one device).
    """

    mode: str = "sum"  # "sum" | "split" | "one"
    number: int = 0

    @classmethod
    def parse(cls, value: object) -> Channels:
        if isinstance(value, Channels):
            return value
        if value in ("sum", "split"):
            return cls(str(value))
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return cls("one", value)
        raise ConfigError(f"channels: expected 'sum', 'split' or a channel number, got {value!r}")

    def device(self, base: str, number: int) -> str:
        return f"{base}-ch{number}" if self.mode == "split" else base


def device_for(topic: str, from_topic: str | None, expected: str | None, layout: str) -> str:
    """The device a message is from: its default topic layout names it (and must agree with the expected
    id); on any other topic, the id the caller derived from its configured topic pattern."""
    if from_topic is not None:
        check_device_id(from_topic, "topic")
        check_expected(from_topic, expected)
        return from_topic
    if expected is not None and topic:
        return check_device_id(expected, "topic pattern")
    raise RejectedReading(f"topic {topic!r} is not {layout} and no topic pattern named its device", "bad_topic")
