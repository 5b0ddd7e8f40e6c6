"""[[alerts.channels]]: every kind validates, and bad input names its key and the reason."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from energymon.adapters.notify.config import (
    EmailChannelSettings,
    MqttChannelSettings,
    NtfyChannelSettings,
    QuietHours,
    SnsChannelSettings,
    WebhookChannelSettings,
    parse_channels,
)
from energymon.errors import ConfigError

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str) -> float:
    """A Berlin wall-clock time as a UTC instant (s)."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN).timestamp()


def test_every_kind_parses_with_its_defaults() -> None:
    channels = parse_channels([
        {"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9000/alerts"},
        {"name": "phone", "kind": "ntfy", "topic": "energy-home", "priority": "high", "tags": ["zap"]},
        {"name": "mail", "kind": "email", "host": "smtp.example.org", "starttls": True, "from": "em@example.org",
         "to": ["me@example.org"], "username": "u", "password": "s3cret-pw"},
        {"name": "ha", "kind": "mqtt", "broker": "mqtt://127.0.0.1:1883"},
        {"name": "aws", "kind": "sns", "topic_arn": "arn:aws:sns:eu-central-1:123456789012:energymon-alerts"},
    ])
    hook, phone, mail, ha, aws = channels
    assert isinstance(hook, WebhookChannelSettings) and hook.timeout_s == 10
    assert isinstance(phone, NtfyChannelSettings) and phone.server == "https://ntfy.sh"
    assert isinstance(mail, EmailChannelSettings) and mail.smtp_port == 587 and mail.from_ == "em@example.org"
    assert "s3cret-pw" not in repr(mail)  # the password is a secret
    assert isinstance(ha, MqttChannelSettings) and ha.topic_prefix == "energymon/alerts" and ha.retain
    assert isinstance(aws, SnsChannelSettings) and aws.topic_region == "eu-central-1"


@pytest.mark.parametrize(("table", "key", "reason"), [
    ({"name": "x", "kind": "pager"}, "alerts.channels[0].kind", "unknown kind 'pager'"),
    ({"name": "x"}, "alerts.channels[0].kind", "missing"),
    ({"name": "x", "kind": "webhook", "url": "127.0.0.1:9000/alerts"}, "alerts.channels[0].url", "http://"),
    ({"name": "x", "kind": "webhook", "url": "http:///alerts"}, "alerts.channels[0].url", "no host"),
    ({"name": "x", "kind": "webhook"}, "alerts.channels[0].url", "missing"),
    ({"name": "x", "kind": "webhook", "url": "http://h", "retries": 3}, "alerts.channels[0].retries", "unknown key"),
    ({"name": "x", "kind": "webhook", "url": "http://h", "headers": {"Bad Header": "1"}},
     "alerts.channels[0].headers", "not a valid HTTP header name"),
    ({"name": "x y", "kind": "webhook", "url": "http://h"}, "alerts.channels[0].name", "letters, digits"),
    ({"name": "x", "kind": "ntfy", "topic": "a/b"}, "alerts.channels[0].topic", "ntfy's topic rule"),
    ({"name": "x", "kind": "ntfy", "topic": "t", "priority": "loud"}, "alerts.channels[0].priority", "'default'"),
    ({"name": "x", "kind": "email", "host": "h", "from": "a@b", "to": []}, "alerts.channels[0].to",
     "at least one recipient"),
    ({"name": "x", "kind": "email", "host": "h", "from": "a@b", "to": ["nobody"]}, "alerts.channels[0].to",
     "not an e-mail address"),
    ({"name": "x", "kind": "email", "host": "h", "from": "a@b", "to": ["c@d"], "ssl": True, "starttls": True},
     "alerts.channels[0]", "not both"),
    ({"name": "x", "kind": "email", "host": "h:25", "from": "a@b", "to": ["c@d"]}, "alerts.channels[0].host",
     "the port goes in `port`"),
    ({"name": "x", "kind": "mqtt", "broker": "tcp://h"}, "alerts.channels[0].broker", "mqtt://"),
    ({"name": "x", "kind": "mqtt", "broker": "mqtt://h", "topic_prefix": "alerts/#"},
     "alerts.channels[0].topic_prefix", "wildcards"),
    ({"name": "x", "kind": "sns", "topic_arn": "energymon-alerts"}, "alerts.channels[0].topic_arn", "not an SNS"),
    ({"name": "x", "kind": "webhook", "url": "http://h", "quiet_hours": {"start": "25:00", "end": "07:00",
      "timezone": "Europe/Berlin"}}, "alerts.channels[0].quiet_hours.start", "'25:00' is not a time of day"),
    ({"name": "x", "kind": "webhook", "url": "http://h", "quiet_hours": {"start": "22:00", "end": "07:00",
      "timezone": "Mars/Olympus"}}, "alerts.channels[0].quiet_hours.timezone", "unknown time zone 'Mars/Olympus'"),
    ({"name": "x", "kind": "webhook", "url": "http://h", "quiet_hours": {"start": "22:00", "end": "22:00",
      "timezone": "UTC"}}, "alerts.channels[0].quiet_hours", "empty"),
    ("hook", "alerts.channels[0]", "must be a table"),
])
def test_bad_channel_names_the_key_and_the_reason(table: object, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_channels([table])
    message = str(caught.value)
    assert message.startswith(f"{key}:"), message
    assert reason in message, message


def test_the_index_of_the_bad_table_is_named_and_names_are_unique() -> None:
    good = {"name": "hook", "kind": "webhook", "url": "http://h"}
    with pytest.raises(ConfigError, match=r"^alerts\.channels\[1\]\.url: "):
        parse_channels([good, {"name": "b", "kind": "webhook", "url": "ftp://h"}])
    with pytest.raises(ConfigError, match=r"^alerts\.channels\[1\]\.name: 'hook' is already .*\[0\]"):
        parse_channels([good, good])


QUIET = QuietHours(start="22:00", end="07:00", timezone="Europe/Berlin")


@pytest.mark.parametrize(("now", "ends"), [
    ("2026-06-10T21:59:59", None),
    ("2026-06-10T22:00:00", "2026-06-11T07:00:00"),  # the window crosses midnight: it ends tomorrow
    ("2026-06-11T03:00:00", "2026-06-11T07:00:00"),  # after midnight: it ends today
    ("2026-06-11T07:00:00", None),
    ("2026-06-11T12:00:00", None),
])
def test_quiet_hours_cross_midnight(now: str, ends: str | None) -> None:
    assert QUIET.ends_after(at(now)) == (None if ends is None else at(ends))


def test_quiet_hours_follow_local_time_across_dst() -> None:
    # GIVEN the night Berlin moves from CEST to CET (2026-10-25, 03:00 -> 02:00): that night lasts 10 hours
    start = at("2026-10-24T22:30:00")
    end = QUIET.ends_after(start)
    # THEN the window still ends at 07:00 local, which is 06:00 UTC (not 05:00, as a fixed offset would give)
    assert end is not None and datetime.fromtimestamp(end, BERLIN).strftime("%H:%M") == "07:00"
    assert end - start == 9.5 * 3600
    # AND on the spring night (2026-03-29, 02:00 -> 03:00) it is one hour shorter
    spring = at("2026-03-28T22:30:00")
    assert QUIET.ends_after(spring) == spring + 7.5 * 3600


def test_a_daytime_window_and_an_end_inside_the_spring_gap() -> None:
    day = QuietHours(start="09:00", end="17:30", timezone="Europe/Berlin")
    assert day.ends_after(at("2026-06-10T08:59:00")) is None
    assert day.ends_after(at("2026-06-10T12:00:00")) == at("2026-06-10T17:30:00")
    gap = QuietHours(start="01:00", end="02:30", timezone="Europe/Berlin")  # 02:30 does not exist on 2026-03-29
    end = gap.ends_after(at("2026-03-29T01:30:00"))
    assert end is not None and end > at("2026-03-29T01:30:00")
    assert datetime.fromtimestamp(end, BERLIN).strftime("%H:%M") == "03:30"  # right after the gap


def test_a_title_is_one_printable_line_whatever_the_names() -> None:
    from energymon.adapters.notify.base import title

    assert title({"rule": "kettle\r\nBcc: x@y", "state": "firing", "device_id": "apt\t1"}) == \
        "energymon: kettle Bcc: x@y firing on apt 1"
