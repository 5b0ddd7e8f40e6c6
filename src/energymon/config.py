"""Settings: defaults < TOML config file < ``ENERGYMON_*`` environment < command-line flags."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from energymon.domain.energy import EnergyParams
from energymon.domain.reading import DEVICE_ID_PATTERN
from energymon.domain.tariffs import Tariff
from energymon.errors import ConfigError
from energymon.event_source import BATCH_SIZE, BATCHING_WINDOW_S, MAX_RECORD_AGE_S, MAX_RETRY_ATTEMPTS, record_age_ok
from energymon.net import is_loopback
from energymon.processing.retention import DEFAULT_RAW_RETENTION_DAYS, retention_problem
from energymon.shared_settings import (
    AlertsSettings,
    DeviceSettings,
    SharedSettings,
    check_device_ids,
    check_tariff,
    check_zone,
    describe_errors,
)

__all__ = ["AlertsSettings", "HomeAssistantSettings", "Settings", "load_settings"]

_TOPIC_LEVEL = re.compile(r"\A[A-Za-z0-9_.-]{1,64}\Z")


def _topic_root(value: str) -> str:
    """A fixed MQTT topic root of one or more levels: no wildcards, no ``$`` topics, no empty levels."""
    levels = value.split("/")
    if not all(_TOPIC_LEVEL.fullmatch(level) for level in levels) or len(levels) > 4:
        raise ValueError(f"{value!r} is not a topic root: 1-4 levels of letters, digits, '_', '.', '-' separated by "
                         "'/' (no wildcards '+' '#', no leading '$', no empty or trailing levels)")
    return value


class HomeAssistantSettings(BaseModel):
    """``[home_assistant]``: MQTT discovery of energymon's derived figures (opt-in)."""

    model_config = ConfigDict(extra="forbid")

    discovery: bool = Field(default=False, description="Publish Home Assistant MQTT discovery configs and states")
    prefix: str = Field(default="homeassistant", description="Home Assistant's discovery prefix")
    base_topic: str = Field(default="energymon", description="Where energymon's states and availability are published")
    interval_s: float = Field(default=10.0, ge=1, le=3600, description="How often the states are published")
    retired: list[str] = Field(default_factory=list,
                               description="Device ids whose entities are removed from Home Assistant")

    @field_validator("prefix", "base_topic")
    @classmethod
    def _root(cls, value: str) -> str:
        return _topic_root(value)

    @field_validator("retired")
    @classmethod
    def _retired(cls, value: list[str]) -> list[str]:
        for device_id in value:
            if not DEVICE_ID_PATTERN.fullmatch(device_id):
                raise ValueError(f"device id {device_id!r} is not valid (1-128 characters: letters, digits and "
                                 "_ . : -, starting with a letter or digit)")
        return value

    @model_validator(mode="after")
    def _apart(self) -> HomeAssistantSettings:
        if self.prefix == self.base_topic or self.base_topic.startswith(self.prefix + "/"):
            raise ValueError(f"base_topic {self.base_topic!r} must not be inside the discovery prefix "
                             f"{self.prefix!r} (Home Assistant reads every topic there as a config)")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENERGYMON_", extra="forbid")

    data_dir: Path = Field(Path("energymon-data"), description="Where every local file lives")
    broker_url: str | None = Field(None, description="Use this broker instead of the embedded one")
    broker_host: str = Field("127.0.0.1", description="Embedded broker address")
    broker_port: int = Field(1883, ge=0, le=65535, description="Embedded broker port (a free one if taken)")
    secure: bool = Field(False, description="Embedded broker requires client certificates (the IoT policy's rules)")
    certs_dir: Path | None = Field(None, description="Secure mode's CA and certificates [default: <data_dir>/certs]")
    source: str = Field("canonical", description="Payload format on the broker: canonical, tasmota, shelly, "
                        "shelly-gen1, plain")
    source_options: dict[str, Any] = Field(default_factory=dict,
                                           description="Device source: topics, channels, sml (see README, Devices)")
    shards: int = Field(2, ge=1, le=64)
    retention_hours: float = Field(24.0, gt=0, le=8760)
    raw_retention_days: float = Field(
        DEFAULT_RAW_RETENTION_DAYS,
        description="Raw readings older than this leave the store (rollups stay for ever, the archive keeps all)",
    )
    batch_size: int = Field(100, ge=BATCH_SIZE[0], le=BATCH_SIZE[1])
    batching_window_s: float = Field(10.0, ge=BATCHING_WINDOW_S[0], le=BATCHING_WINDOW_S[1])
    bisect_on_error: bool = True
    max_retry_attempts: int = Field(10, ge=MAX_RETRY_ATTEMPTS[0], le=MAX_RETRY_ATTEMPTS[1])
    max_record_age_s: float = Field(3600.0, description="-1 or 60–604800")
    dead_letter_max_mb: float = Field(64.0, gt=0, le=100_000, description="Rejections beyond this are trimmed")
    dead_letter_max_age_days: float = Field(30.0, gt=0, le=3650, description="Rejections older are trimmed")
    timezone: str = Field("UTC", description="Default IANA zone of devices")
    device_timezones: dict[str, str] = Field(default_factory=dict, description="Older form of devices.<id>.timezone")
    devices: dict[str, DeviceSettings] = Field(default_factory=dict,
                                               description='Per-device settings: [devices."apt-1"] tables')
    max_power_w: float = Field(50_000.0, gt=0)
    max_gap_s: float = Field(300.0, gt=0)
    jitter_wh: float = Field(1.0, ge=0)
    simulate: int = Field(3, ge=0, le=1000, description="Simulated apartments to run")
    publish_interval_s: float = Field(5.0, gt=0, le=3600)
    seed: int = 42
    webhook_url: str | None = None
    web_host: str = Field("127.0.0.1", description="Dashboard/API address (non-loopback needs api_token)")
    web_port: int = Field(8080, ge=0, le=65535, description="Dashboard/API port (a free one if taken or 0)")
    api_token: str | None = Field(None, description="Bearer token the API requires (needed off loopback)")
    tariff: dict[str, Any] | None = Field(None, description="Tariff table (see README, Tariffs); no cost without it")
    alerts: AlertsSettings = Field(default_factory=AlertsSettings, description="[[alerts.rules]], [[alerts.channels]]")
    alerts_interval_s: float = Field(15.0, ge=1, le=3600, description="How often time-driven alert rules run")
    home_assistant: HomeAssistantSettings = Field(default_factory=HomeAssistantSettings,
                                                  description="[home_assistant]: MQTT discovery (see README)")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
        toml_file = settings_cls.model_config.get("toml_file")
        if toml_file:
            sources += (TomlConfigSettingsSource(settings_cls, toml_file),)
        return sources

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("device_timezones")
    @classmethod
    def _known_zones(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value.values():
            check_zone(name)
        return value

    @field_validator("devices")
    @classmethod
    def _device_ids(cls, value: dict[str, DeviceSettings]) -> dict[str, DeviceSettings]:
        return check_device_ids(value)

    @model_validator(mode="after")
    def _one_zone_per_device(self) -> Settings:
        for device_id, name in self.device_timezones.items():
            device = self.devices.get(device_id)
            if device is not None and device.timezone is not None and device.timezone != name:
                raise ValueError(
                    f"device_timezones.{device_id} ({name!r}) conflicts with devices.{device_id}.timezone "
                    f"({device.timezone!r}); keep only devices.{device_id}.timezone"
                )
        return self

    @field_validator("max_record_age_s")
    @classmethod
    def _record_age(cls, value: float) -> float:
        if not record_age_ok(value):
            lo, hi = MAX_RECORD_AGE_S
            raise ValueError(f"must be -1 (no limit) or between {lo} and {hi} seconds")
        return value

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if value not in ("canonical", "tasmota", "shelly", "shelly-gen1", "plain"):
            raise ValueError("must be one of canonical, tasmota, shelly, shelly-gen1, plain")
        return value

    @field_validator("source_options")
    @classmethod
    def _source_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        from energymon.adapters.mqtt.sources import SourceOptions

        try:
            SourceOptions.from_dict(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("tariff")
    @classmethod
    def _valid_tariff(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_tariff(value)

    def tariff_model(self) -> Tariff | None:
        return Tariff.from_dict(self.tariff) if self.tariff is not None else None

    @model_validator(mode="after")
    def _token_off_loopback(self) -> Settings:
        if not is_loopback(self.web_host) and not self.api_token:
            raise ValueError(
                f"web_host {self.web_host!r} is not a loopback address: set api_token (ENERGYMON_API_TOKEN) "
                "so the API is not open to the network"
            )
        return self

    @field_validator("raw_retention_days")
    @classmethod
    def _raw_retention(cls, value: float, info: ValidationInfo) -> float:
        # retention_hours is declared first, so it is validated (and known) here unless it was itself refused.
        problem = retention_problem(value, info.data.get("retention_hours", 24.0))
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _secure_mode(self) -> Settings:
        if self.secure and self.broker_url:
            raise ValueError(
                "secure mode (--secure) runs the embedded broker with its own local CA and cannot be combined "
                "with an external broker (broker_url / --broker); drop one of the two"
            )
        if self.secure and self.home_assistant.discovery:
            raise ValueError(
                "Home Assistant discovery (home_assistant.discovery / --ha-discovery) needs a broker Home Assistant "
                "can use; secure mode's embedded broker lets only devices publish: use --broker with your own "
                "broker, or leave secure mode off"
            )
        if self.certs_dir is None:
            self.certs_dir = self.data_dir / "certs"
        return self

    def energy_params(self) -> EnergyParams:
        return EnergyParams(self.max_power_w, int(self.max_gap_s * 1000), self.jitter_wh)

    def shared_settings(self) -> SharedSettings:
        """What both runtimes compute the same way; ``device_timezones`` merged into ``devices``."""
        devices = dict(self.devices)
        for device_id, name in self.device_timezones.items():
            device = devices.get(device_id) or DeviceSettings()
            devices[device_id] = device.model_copy(update={"timezone": name})
        try:
            return SharedSettings(timezone=self.timezone, tariff=self.tariff, max_power_w=self.max_power_w,
                                  max_gap_s=self.max_gap_s, jitter_wh=self.jitter_wh, devices=devices,
                                  alerts=self.alerts)
        except ValidationError as exc:  # every part was validated above; kept so a gap reads clearly
            raise ConfigError(f"settings: {describe_errors(exc)}") from None


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings, turning every validation problem into one readable :class:`ConfigError`."""
    values = {k: v for k, v in overrides.items() if v is not None}
    cls: type[Settings] = Settings
    if config_file is not None:
        if not config_file.is_file():
            raise ConfigError(f"config file {config_file} does not exist")

        class FileSettings(Settings):
            model_config = SettingsConfigDict(env_prefix="ENERGYMON_", extra="forbid", toml_file=config_file)

        cls = FileSettings
    try:
        return cls(**values)
    except ValidationError as exc:
        origin = f"config file {config_file}" if config_file else "settings"
        raise ConfigError(f"{origin}: {describe_errors(exc, '(file)')}") from None
    except ValueError as exc:  # a TOML syntax error
        raise ConfigError(f"config file {config_file}: {exc}") from None

