"""``[[alerts.channels]]``: one validated model per channel kind, and the quiet hours every kind may have.

:func:`parse_channels` is what the settings loader calls on the raw tables; every problem becomes one
:class:`ConfigError` that names the key (``alerts.channels[2].url``) and the reason.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from energymon.errors import ConfigError

__all__ = [
    "CHANNEL_KINDS",
    "ChannelSettings",
    "EmailChannelSettings",
    "MqttChannelSettings",
    "NtfyChannelSettings",
    "QuietHours",
    "SnsChannelSettings",
    "WebhookChannelSettings",
    "parse_channels",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_SNS_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{value!r} must start with http:// or https://")
    if not parts.hostname:
        raise ValueError(f"{value!r} has no host")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port lazily
    except ValueError:
        raise ValueError(f"{value!r} has an invalid port") from None
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class QuietHours(_Strict):
    """A daily window in local wall-clock time (it may cross midnight) in which only critical alerts are sent."""

    start: str
    end: str
    timezone: str

    @field_validator("start", "end")
    @classmethod
    def _hh_mm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"{value!r} is not a time of day as HH:MM (00:00 to 23:59)")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)") from None
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError(f"start and end are both {self.start}: the window would be empty")
        return self

    def ends_after(self, now_s: float) -> float | None:
        """If ``now_s`` falls inside the window, the UTC instant (s) it ends; otherwise None.

        Works on local wall-clock times, so the window stays 22:00-07:00 across DST changes; an end that falls
        in a spring-forward gap resolves to the instant right after the gap.
        """
        tz = ZoneInfo(self.timezone)
        local = datetime.fromtimestamp(now_s, tz)
        start, end, clock = _time(self.start), _time(self.end), local.time()
        if start < end:
            inside = start <= clock < end
            end_day = local.date()
        else:  # crosses midnight: inside from start to midnight, and from midnight to end
            inside = clock >= start or clock < end
            end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
        if not inside:
            return None
        return datetime.combine(end_day, end, tz).timestamp()


def _time(hh_mm: str) -> time:
    hours, minutes = hh_mm.split(":")
    return time(int(hours), int(minutes))


class _Channel(_Strict):
    name: str
    quiet_hours: QuietHours | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} must be 1-64 letters, digits, '.', '_' or '-' (and start with one of the "
                             "first two)")
        return value


class WebhookChannelSettings(_Channel):
    kind: Literal["webhook"] = "webhook"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(10.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for header, content in value.items():
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", header):
                raise ValueError(f"{header!r} is not a valid HTTP header name")
            if "\n" in content or "\r" in content:
                raise ValueError(f"the value of header {header!r} contains a line break")
        return value


NtfyPriority = Literal["min", "low", "default", "high", "max", "urgent", 1, 2, 3, 4, 5]


class NtfyChannelSettings(_Channel):
    kind: Literal["ntfy"] = "ntfy"
    server: str = "https://ntfy.sh"
    topic: str
    priority: NtfyPriority = "default"
    tags: list[str] = Field(default_factory=list)
    token: SecretStr | None = None
    timeout_s: float = Field(10.0, gt=0, le=120)

    @field_validator("server")
    @classmethod
    def _server(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", value):
            raise ValueError(f"{value!r} must be 1-64 letters, digits, '_' or '-' (ntfy's topic rule)")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not tag or "," in tag or "\n" in tag:
                raise ValueError(f"tag {tag!r} must be non-empty and contain no comma or line break")
        return value


class EmailChannelSettings(_Channel):
    kind: Literal["email"] = "email"
    host: str
    port: int | None = Field(None, ge=1, le=65535)  # default: 465 with ssl, 587 with starttls, else 25
    starttls: bool = False
    ssl: bool = False
    username: str | None = None
    password: SecretStr | None = None
    from_: str = Field(alias="from")
    to: list[str]
    ca_file: str | None = None  # a private CA to trust for ssl/starttls (default: the system's)
    timeout_s: float = Field(10.0, gt=0, le=120)

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if not value or any(c in value for c in "/ @") or value.count(":") == 1:
            raise ValueError(f"{value!r} must be a host name or address (the port goes in `port`)")
        return value

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        return _address(value)

    @field_validator("to")
    @classmethod
    def _to(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one recipient address")
        return [_address(v) for v in value]

    @model_validator(mode="after")
    def _tls_and_login(self) -> EmailChannelSettings:
        if self.starttls and self.ssl:
            raise ValueError("set either starttls (upgrade a plain connection) or ssl (TLS from the start), not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: set both or neither")
        return self

    @property
    def smtp_port(self) -> int:
        return self.port or (465 if self.ssl else 587 if self.starttls else 25)


def _address(value: str) -> str:
    if not re.fullmatch(r"[^@\s<>,]+@[^@\s<>,]+", value):
        raise ValueError(f"{value!r} is not an e-mail address (name@host)")
    return value


class MqttChannelSettings(_Channel):
    kind: Literal["mqtt"] = "mqtt"
    broker: str
    topic_prefix: str = "energymon/alerts"
    retain: bool = True
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = Field(10.0, gt=0, le=120)

    @field_validator("broker")
    @classmethod
    def _broker(cls, value: str) -> str:
        from energymon.adapters.mqtt.client import parse_broker_url

        try:
            parse_broker_url(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not value or value.startswith("/") or value.endswith("/") or any(c in value for c in "+#\0"):
            raise ValueError(f"{value!r} must be a topic without wildcards (+, #) and without a leading or "
                             "trailing '/'")
        return value

    @model_validator(mode="after")
    def _pairs(self) -> MqttChannelSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together: set both or neither")
        return self


class SnsChannelSettings(_Channel):
    kind: Literal["sns"] = "sns"
    topic_arn: str
    region: str | None = None  # default: the topic ARN's region

    @field_validator("topic_arn")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not _SNS_TOPIC_ARN.match(value):
            raise ValueError(f"{value!r} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)")
        return value

    @property
    def topic_region(self) -> str:
        return self.region or self.topic_arn.split(":")[3]


ChannelSettings = Annotated[
    WebhookChannelSettings | NtfyChannelSettings | EmailChannelSettings | MqttChannelSettings | SnsChannelSettings,
    Field(discriminator="kind"),
]

_MODELS: dict[str, type[_Channel]] = {
    "webhook": WebhookChannelSettings,
    "ntfy": NtfyChannelSettings,
    "email": EmailChannelSettings,
    "mqtt": MqttChannelSettings,
    "sns": SnsChannelSettings,
}
CHANNEL_KINDS = tuple(sorted(_MODELS))


def parse_channels(tables: list[Any], where: str = "alerts.channels") -> list[ChannelSettings]:
    """Validate raw ``[[alerts.channels]]`` tables; the first problem is a ConfigError naming its key."""
    if not isinstance(tables, list):
        raise ConfigError(f"{where}: must be a list of tables ([[alerts.channels]])")
    out: list[Any] = []
    seen: dict[str, int] = {}
    for i, table in enumerate(tables):
        at = f"{where}[{i}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{at}: must be a table with at least `name` and `kind`")
        kind = table.get("kind")
        if kind is None:
            raise ConfigError(f"{at}.kind: missing (one of {', '.join(CHANNEL_KINDS)})")
        if kind not in _MODELS:
            raise ConfigError(f"{at}.kind: unknown kind {kind!r} (expected one of {', '.join(CHANNEL_KINDS)})")
        try:
            channel = _MODELS[kind].model_validate(table)
        except ValidationError as exc:
            raise ConfigError(_first_problem(at, exc)) from None
        if channel.name in seen:
            raise ConfigError(f"{at}.name: {channel.name!r} is already the name of {where}[{seen[channel.name]}]")
        seen[channel.name] = i
        out.append(channel)
    return out


def _first_problem(at: str, exc: ValidationError) -> str:
    problem = exc.errors()[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{'from' if p == 'from_' else p}" for p in problem["loc"])
    message = problem["msg"].removeprefix("Value error, ")
    if problem["type"] == "extra_forbidden":
        message = "unknown key (a typo?)"
    elif problem["type"] == "missing":
        message = "missing"
    return f"{at}{loc}: {message}"
