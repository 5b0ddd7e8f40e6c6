"""The settings both runtimes must apply the same way: default zone, tariff and energy limits, and per device.

Locally it is built from the TOML file (``Settings.shared_settings()``); on AWS Terraform renders the same model
as JSON into ``s3://<archive bucket>/config/settings.json`` and the Lambda loads it
(``energymon.adapters.aws.settings_object.load_shared_settings``). Both composition roots build their Processor
and read side from it through one function (``energymon.processing.compose``), so the same readings give the same
stored minutes and costs on both.

Unknown keys are refused (``extra="forbid"``): a misspelt ``max_power`` must not silently fall back to a default.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from energymon.adapters.notify.config import CHANNEL_KINDS, ChannelSettings, parse_channels
from energymon.domain.alerts.rules import AlertRule, RuleError, parse_rules
from energymon.domain.energy import EnergyParams
from energymon.domain.reading import DEVICE_ID_PATTERN
from energymon.domain.tariffs import Tariff
from energymon.domain.timebuckets import zone
from energymon.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["LABEL_PATTERN", "AlertsSettings", "DeviceSettings", "SharedSettings", "describe_errors"]

# A label is shown in the dashboard and the CLI: printable text, no control characters, bounded.
LABEL_PATTERN = re.compile(r"\A[^\x00-\x1f\x7f]{1,64}\Z")


def check_zone(name: str) -> str:
    """``name`` if it is a known IANA zone; a ValueError (pydantic's error message) otherwise."""
    try:
        zone(name)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return name


def check_device_ids(devices: dict[str, DeviceSettings]) -> dict[str, DeviceSettings]:
    """``devices`` if every key is a valid device id; a ValueError naming the first bad one otherwise."""
    for device_id in devices:
        if not DEVICE_ID_PATTERN.fullmatch(device_id):
            raise ValueError(f"device id {device_id!r} is not valid (1-128 characters: letters, digits and "
                             "_ . : -, starting with a letter or digit)")
    return devices


def _without_nulls(value: Any) -> Any:
    """Terraform renders an unset optional attribute as null: in a tariff table that means "not given"."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def check_tariff(table: dict[str, Any] | None) -> dict[str, Any] | None:
    """The tariff table (nulls dropped) if :meth:`Tariff.from_dict` accepts it; a ValueError naming the key."""
    if table is None:
        return None
    table = _without_nulls(table)
    try:
        Tariff.from_dict(table)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return table


def describe_errors(exc: ValidationError, whole: str = "(document)") -> str:
    """Every problem of a validation error as ``key.path: message`` (e.g. ``devices.apt-1.max_power_w: ...``)."""
    return "; ".join(_problem(err, whole) for err in exc.errors())


def _problem(err: Any, whole: str) -> str:
    where = ".".join(str(p) for p in err["loc"]) or whole
    message = str(err["msg"])
    if where.split(".")[-1] in ("alerts", "channels") and message.startswith("Value error, "):
        # The alert rules and channels name their own key (``rules[0].threshold_w``): say it once, in full.
        return f"{where.removesuffix('.channels')}.{message.removeprefix('Value error, ')}"
    return f"{where}: {message}"


class AlertsSettings(BaseModel):
    """``[[alerts.rules]]`` (validated by the alerts domain) and ``[[alerts.channels]]`` (name and kind here; the
    channels validate their own keys)."""

    model_config = ConfigDict(extra="forbid")

    rules: list[dict[str, Any]] = Field(default_factory=list)
    channels: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: set[str] = set()
        for i, channel in enumerate(value):
            name, kind = channel.get("name"), channel.get("kind")
            if not isinstance(name, str) or not name:
                raise ValueError(f"channels[{i}].name: is required (the name rules refer to)")
            if name in seen:
                raise ValueError(f"channels[{i}].name: {name!r} is defined twice")
            seen.add(name)
            if kind not in CHANNEL_KINDS:
                raise ValueError(f"channels[{i}].kind: unknown kind {kind!r} (one of {', '.join(CHANNEL_KINDS)})")
        try:  # every other key, by the channel's own model
            parse_channels(value, where="channels")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _rules(self) -> AlertsSettings:
        try:
            parse_rules(self.rules, [c["name"] for c in self.channels], prefix="rules")
        except RuleError as exc:
            raise ValueError(str(exc)) from None
        return self

    def rule_models(self) -> tuple[AlertRule, ...]:
        return parse_rules(self.rules, [c["name"] for c in self.channels])

    def channel_models(self) -> list[ChannelSettings]:
        return parse_channels(self.channels)


class DeviceSettings(BaseModel):
    """One device's overrides; anything left unset falls back to the top-level value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str | None = Field(default=None, description="IANA zone the device's days and months are cut in")
    tariff: dict[str, Any] | None = Field(default=None, description="Tariff table (same shape as the top-level tariff)")
    max_power_w: float | None = Field(default=None, gt=0, description="Highest plausible power (W)")
    max_gap_s: float | None = Field(default=None, gt=0, description="Longest silence bridged by interpolation (s)")
    jitter_wh: float | None = Field(default=None, ge=0, description="Counter decreases up to this are jitter (Wh)")
    label: str | None = Field(default=None, description="Apartment name shown to people (1-64 printable characters)")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_zone(value)

    @field_validator("tariff")
    @classmethod
    def _tariff(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_tariff(value)

    @field_validator("label")
    @classmethod
    def _label(cls, value: str | None) -> str | None:
        if value is not None and not LABEL_PATTERN.fullmatch(value):
            raise ValueError("must be 1 to 64 printable characters (no control characters or newlines)")
        return value


class SharedSettings(BaseModel):
    """Defaults plus per-device overrides; the lookups the composition roots need are plain dict gets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field("UTC", description="Default IANA zone of devices")
    tariff: dict[str, Any] | None = Field(default=None, description="Default tariff table; no cost without one")
    max_power_w: float = Field(50_000.0, gt=0)
    max_gap_s: float = Field(300.0, gt=0)
    jitter_wh: float = Field(1.0, ge=0)
    devices: dict[str, DeviceSettings] = Field(default_factory=dict)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings, description="Alert rules and channels")

    _tariffs: dict[str, Tariff | None] = PrivateAttr(default_factory=dict)
    _params: dict[str, EnergyParams] = PrivateAttr(default_factory=dict)
    _default_tariff: Tariff | None = PrivateAttr(None)
    _default_params: EnergyParams = PrivateAttr(default_factory=EnergyParams)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("tariff")
    @classmethod
    def _tariff(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return check_tariff(value)

    @field_validator("devices")
    @classmethod
    def _device_ids(cls, value: dict[str, DeviceSettings]) -> dict[str, DeviceSettings]:
        return check_device_ids(value)

    @model_validator(mode="after")
    def _resolve(self) -> SharedSettings:
        # Parsed once here so the processor's and the read side's lookups cost a dict get.
        self._default_tariff = Tariff.from_dict(self.tariff) if self.tariff is not None else None
        self._default_params = EnergyParams(self.max_power_w, int(self.max_gap_s * 1000), self.jitter_wh)
        for device_id, device in self.devices.items():
            self._tariffs[device_id] = (Tariff.from_dict(device.tariff) if device.tariff is not None
                                        else self._default_tariff)
            self._params[device_id] = EnergyParams(
                device.max_power_w if device.max_power_w is not None else self.max_power_w,
                int((device.max_gap_s if device.max_gap_s is not None else self.max_gap_s) * 1000),
                device.jitter_wh if device.jitter_wh is not None else self.jitter_wh,
            )
        return self

    @classmethod
    def from_document(cls, data: Any, origin: str) -> SharedSettings:
        """Validate a parsed document (JSON object); :class:`ConfigError` names ``origin`` and each key path."""
        if not isinstance(data, dict):
            raise ConfigError(f"{origin}: the settings document must be a JSON object, not {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"{origin}: {describe_errors(exc)}") from None

    def document(self) -> dict[str, Any]:
        """The JSON-ready document (what Terraform renders into the S3 object)."""
        return self.model_dump(mode="json", exclude_none=True)

    # -- what the composition roots ask ------------------------------------------------------------
    def zone_of(self, device_id: str) -> str:
        device = self.devices.get(device_id)
        return device.timezone if device is not None and device.timezone is not None else self.timezone

    def tariff_of(self, device_id: str) -> Tariff | None:
        """The device's own tariff, else the default (None: no cost is computed)."""
        return self._tariffs.get(device_id, self._default_tariff)

    def default_tariff(self) -> Tariff | None:
        return self._default_tariff

    def energy_params_of(self, device_id: str) -> EnergyParams:
        return self._params.get(device_id, self._default_params)

    def default_energy_params(self) -> EnergyParams:
        return self._default_params

    def label_of(self, device_id: str) -> str | None:
        device = self.devices.get(device_id)
        return device.label if device is not None else None

    def device_zones(self) -> Mapping[str, str]:
        """The devices that set their own zone (what ``ZoneResolver`` takes)."""
        return {d: s.timezone for d, s in self.devices.items() if s.timezone is not None}

    def device_energy_params(self) -> Mapping[str, EnergyParams]:
        return dict(self._params)
