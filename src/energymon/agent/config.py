"""Agent settings: defaults < TOML file (flat keys, or an ``[agent]`` table) < command-line flags."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from energymon.adapters.mqtt.client import parse_broker_url
from energymon.domain.decoders._common import zone
from energymon.domain.reading import DEVICE_ID_PATTERN, check_basic_ingest_rule
from energymon.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["AgentConfig", "load_agent_config"]

# AWS IoT Core limits (FACTS.md): 100 publishes/s per connection, keep-alive clamped to 30–1200 s.
IOT_MAX_PUBLISHES_PER_S = 100
IOT_MIN_KEEPALIVE_S = 30
IOT_MAX_KEEPALIVE_S = 1200


def _checked_by(check: Callable[[str], object], value: str) -> str:
    """``value`` if ``check`` accepts it; its ConfigError as the ValueError pydantic reports per field."""
    try:
        check(value)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return value


class AgentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    device_id: str = Field(description="Thing name: MQTT client id and topic energy/<device_id>/telemetry")
    timezone: str = Field("UTC", description="IANA zone of the meter's local clock (Tasmota, P1)")
    source: Literal["simulator", "p1", "tasmota", "shelly", "shelly-gen1"] = "simulator"

    # --- publishing ---
    broker_url: str = Field("mqtts://localhost:8883", description="mqtts://<endpoint>:8883 for IoT Core")
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_id: str | None = Field(None, description="Defaults to device_id (IoT Core: client id = thing name)")
    basic_ingest_rule: str | None = Field(
        None,
        description="AWS IoT Core only: publish to $aws/rules/<this rule>/energy/<device_id>/telemetry, which runs "
                    "the rule without the message broker (no messaging charge); Terraform output "
                    "iot_topic_rule_name. Unset: the broker topic (a local broker always)")
    mqtt_version: Literal["5", "3.1.1"] = Field("5", description="5 falls back to 3.1.1 if the broker lacks 5")
    keepalive_s: int = Field(60, ge=IOT_MIN_KEEPALIVE_S, le=IOT_MAX_KEEPALIVE_S)
    batch_interval_s: float = Field(10.0, ge=0, le=3600, description="Seconds of live samples per message")
    max_publish_rate: float = Field(50.0, gt=0, le=IOT_MAX_PUBLISHES_PER_S, description="Publishes per second")
    max_inflight: int = Field(10, ge=1, le=100, description="Unacknowledged messages at once")
    drain_rate: float = Field(5.0, gt=0, le=IOT_MAX_PUBLISHES_PER_S, description="Backlog messages per second")
    drain_batch: int = Field(600, ge=1, le=3600, description="Samples per backlog message")
    reconnect_min_s: float = Field(1.0, gt=0, le=60)
    reconnect_max_s: float = Field(120.0, gt=0, le=3600)

    # --- store and forward ---
    buffer_path: Path = Field(Path("energymon-agent/buffer.db"), description="SQLite buffer (':memory:' for none)")
    buffer_max_readings: int = Field(2_000_000, ge=10, description="Oldest readings are dropped beyond this")
    buffer_max_age_s: float = Field(30 * 86_400, ge=60, description="Readings older than this are dropped")
    buffer_sync: Literal["full", "normal"] = Field("full", description="full survives power loss, normal a crash")
    status_interval_s: float = Field(10.0, gt=0)

    # --- sources ---
    sim_seed: int = 42
    sim_speed: float = Field(1.0, gt=0, le=3600, description="Simulated seconds per real second")
    p1_url: str | None = Field(None, description="/dev/ttyUSB0, or socket://host:port for ser2net-style readers")
    p1_baudrate: int = Field(115_200, gt=0)
    relay_broker_url: str = Field("mqtt://127.0.0.1:1883", description="Home broker the plugs publish to")
    relay_ca_file: Path | None = None
    relay_device: str | None = Field(None, description="Only this local Tasmota topic / Shelly id (default: any)")
    relay_channel: int = Field(0, ge=0, description="Shelly em1:N channel")
    relay_channels: str | None = Field(
        None, description="Multi-channel device: 'sum', or channel N (Tasmota 1-based) [default: Tasmota sum, "
                          "Shelly relay_channel]; one agent is one device, so not 'split'")

    @field_validator("basic_ingest_rule")
    @classmethod
    def _rule_name(cls, value: str | None) -> str | None:
        return None if value is None else _checked_by(check_basic_ingest_rule, value)

    @field_validator("relay_channels")
    @classmethod
    def _relay_channels(cls, value: str | None) -> str | None:
        if value is not None and value != "sum" and not value.isdigit():  # (Shelly Gen1: a number only)
            raise ValueError("must be 'sum' or a channel number (one agent is one device: no 'split')")
        return value

    @field_validator("device_id")
    @classmethod
    def _device_id(cls, value: str) -> str:
        if not DEVICE_ID_PATTERN.fullmatch(value) or any(ch in value for ch in "/+#"):
            raise ValueError(f"{value!r} is not a valid device id (letters, digits, _ . : -)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _checked_by(zone, value)

    @field_validator("broker_url", "relay_broker_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _checked_by(parse_broker_url, value)

    @model_validator(mode="after")
    def _consistent(self) -> AgentConfig:
        if self.source == "p1" and not self.p1_url:
            raise ValueError("source 'p1' needs p1_url (a serial device, or socket://host:port)")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        return self

    @property
    def mqtt_client_id(self) -> str:
        return self.client_id or self.device_id


def load_agent_config(path: Path | None = None, **overrides: Any) -> AgentConfig:
    """Read ``path`` (if any), apply non-``None`` overrides, and explain every problem in one ConfigError."""
    values: dict[str, Any] = {}
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        values = dict(data.get("agent", data))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return AgentConfig(**values)
    except ValidationError as exc:
        origin = f"config file {path}" if path else "agent settings"
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(all)'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"{origin}: {problems}") from None
