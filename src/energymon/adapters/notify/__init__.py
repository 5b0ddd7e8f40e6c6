"""Alert channels: webhook, ntfy, SMTP e-mail, retained MQTT and SNS, each one ``send(body)`` behind one base."""

from __future__ import annotations

from typing import TYPE_CHECKING

from energymon.adapters.notify.base import Channel, DeliveryError
from energymon.adapters.notify.config import (
    ChannelSettings,
    EmailChannelSettings,
    MqttChannelSettings,
    NtfyChannelSettings,
    SnsChannelSettings,
    WebhookChannelSettings,
    parse_channels,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["Channel", "ChannelSettings", "DeliveryError", "build_channel", "build_channels", "parse_channels"]


def build_channel(settings: ChannelSettings) -> Channel:
    """The channel a validated setting describes (imports only what that kind needs)."""
    if isinstance(settings, WebhookChannelSettings):
        from energymon.adapters.notify.http import WebhookChannel

        return WebhookChannel(settings)
    if isinstance(settings, NtfyChannelSettings):
        from energymon.adapters.notify.http import NtfyChannel

        return NtfyChannel(settings)
    if isinstance(settings, EmailChannelSettings):
        from energymon.adapters.notify.email import EmailChannel

        return EmailChannel(settings)
    if isinstance(settings, MqttChannelSettings):
        from energymon.adapters.notify.mqtt import MqttChannel

        return MqttChannel(settings)
    if isinstance(settings, SnsChannelSettings):
        from energymon.adapters.notify.sns import SnsChannel

        return SnsChannel(settings)
    raise TypeError(f"no channel for {type(settings).__name__}")


def build_channels(settings: Iterable[ChannelSettings]) -> dict[str, Channel]:
    return {s.name: build_channel(s) for s in settings}
