"""``energymon decode``: one device payload through the decoder the bridge and the agent run, printed as
the canonical v1 message it becomes (exit 0) or the reason it is refused (exit 2).

No ``from __future__ import annotations``: Typer reads the options' annotations at run time.
"""

import sys
import time
from collections import defaultdict
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from energymon.domain.reading import MAX_MESSAGE_BYTES
from energymon.errors import ConfigError, RejectedReading
from energymon.runtimes.cli.common import ConfigOption, err

if TYPE_CHECKING:
    from energymon.domain.reading import Reading

__all__ = ["decode"]


class Format(StrEnum):
    canonical = "canonical"
    tasmota = "tasmota"
    shelly = "shelly"
    shelly_gen1 = "shelly-gen1"
    plain = "plain"
    dsmr = "dsmr"


# The topic a device with id <id> publishes on by default (used when only --device-id is given).
_DEFAULT_TOPIC = {"canonical": "energy/{}/telemetry", "tasmota": "tele/{}/SENSOR", "shelly": "{}/events/rpc"}


def decode(
    file: Annotated[str, typer.Argument(help="The payload file, or - for standard input")] = "-",
    format_: Annotated[Format, typer.Option("--format", help="Payload format")] = Format.canonical,
    topic: Annotated[str | None, typer.Option(help="The MQTT topic it came on [default: the format's own, "
                                                   "from --device-id]")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone of the device's local times "
                                                      "[default: from --config, else UTC]")] = None,
    device_id: Annotated[str | None, typer.Option(help="The device it must be from (P1: the id to give it)")] = None,
    received_at: Annotated[str | None, typer.Option(
        help="Judge it as if it arrived then (ISO 8601 with offset) [default: now]")] = None,
    config: ConfigOption = None,
) -> None:
    """Decode one device payload and print the canonical v1 message it becomes, or why it is refused."""
    try:
        payload = _read(file)
        now_ms = _received_ms(received_at)
        readings = _decode(format_.value, payload, topic, timezone, device_id, now_ms, config)
    except RejectedReading as exc:
        err.print(f"refused [{exc.code}]: {exc.reason}", markup=False, soft_wrap=True)
        raise typer.Exit(2) from None
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from None
    by_device: dict[str, list[Reading]] = defaultdict(list)
    for reading in readings:
        by_device[reading.device_id].append(reading)
    for device, rows in by_device.items():
        samples = [{k: v for k, v in r.to_dict().items() if k != "device_id"} for r in rows]
        sys.stdout.write(orjson.dumps({"v": 1, "device_id": device, "samples": samples}).decode() + "\n")


def _read(file: str) -> bytes:
    try:
        if file == "-":
            data = sys.stdin.buffer.read(MAX_MESSAGE_BYTES + 1)
        else:
            with Path(file).open("rb") as f:
                data = f.read(MAX_MESSAGE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read {file}: {exc.strerror or exc}") from None
    return data


def _received_ms(value: str | None) -> int:
    if value is None:
        return int(time.time() * 1000)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"--received-at {value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise ConfigError(f"--received-at {value!r} needs an offset (Z or +01:00)")
    return int(parsed.timestamp() * 1000)


def _decode(fmt: str, payload: bytes, topic: str | None, timezone: str | None, device_id: str | None,
            now_ms: int, config: Path | None) -> "list[Reading]":
    from energymon.adapters.mqtt.sources import SourceOptions, message_decoder
    from energymon.domain.decoders import DECODERS
    from energymon.processing import ZoneResolver

    options = SourceOptions()
    zones = ZoneResolver()
    if config is not None:
        from energymon.config import load_settings

        settings = load_settings(config)
        options = SourceOptions.from_dict(settings.source_options) if settings.source == fmt else options
        zones = ZoneResolver(settings.timezone, settings.device_timezones)
    if timezone is not None:
        zones = ZoneResolver(timezone)
    if fmt == "dsmr":  # from a serial port: no topic, the id is the configured one (as the agent runs it)
        device = device_id or "p1"
        return DECODERS["dsmr"]("", payload, zones(device), device_id=device, now_ms=now_ms)
    if topic is None:
        topic = _default_topic(fmt, payload, device_id)
    if fmt == "canonical":
        return DECODERS["canonical"](topic, payload, zones(device_id or ""), device_id=device_id, now_ms=now_ms)
    route, _filters = message_decoder(fmt, zones, options)
    return route(topic, payload, expected=device_id, now_ms=now_ms)


def _default_topic(fmt: str, payload: bytes, device_id: str | None) -> str:
    if fmt in ("shelly-gen1", "plain"):
        raise ConfigError(f"a {fmt} payload's meaning is in its topic: pass --topic "
                          "(e.g. shellies/<id>/relay/0/energy, <node>/sensor/power/state)")
    if device_id is None:
        # Canonical messages and Shelly notifications name their sender; the topic is rebuilt from that.
        key = "src" if fmt == "shelly" else "device_id"
        try:
            named = orjson.loads(payload).get(key) if fmt != "tasmota" else None
        except (orjson.JSONDecodeError, AttributeError):
            named = None
        if not isinstance(named, str) or not named:
            raise ConfigError(f"which device is this {fmt} payload from? pass --topic or --device-id")
        device_id = named
    return _DEFAULT_TOPIC[fmt].format(device_id)
