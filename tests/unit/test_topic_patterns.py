"""Topic patterns and source routing: the device-id rule, subscription filters, unroutable messages."""

from __future__ import annotations

import orjson
import pytest

from energymon.adapters.mqtt.sources import DEFAULT_TOPICS, SourceOptions, message_decoder
from energymon.domain.decoders.topics import TopicPattern
from energymon.domain.reading import device_from_topic, telemetry_topic
from energymon.errors import ConfigError, RejectedReading

NOW = 1_795_813_200_000


@pytest.mark.parametrize(
    ("pattern", "topic", "device"),
    [
        ("tele/{device}/SENSOR", "tele/plug-1/SENSOR", "plug-1"),
        ("tele/{device}/SENSOR", "tele/plug-1/STATE", None),
        ("tele/{device}/SENSOR", "tele/a/b/SENSOR", None),
        # a Tasmota FullTopic with extra levels: %prefix%/home/%topic%/
        ("tele/home/{device}/SENSOR", "tele/home/kitchen/SENSOR", "kitchen"),
        # a Shelly prefix with slashes: two {device} levels joined with "-"
        ("shellies/{device}/{device}/events/rpc", "shellies/kitchen/plug/events/rpc", "kitchen-plug"),
        ("site/+/{device}/#", "site/eu/meter-7/x/y", "meter-7"),
        ("site/+/{device}/#", "site/eu", None),
        ("{device}/events/rpc", "$SYS/events/rpc", None),
    ],
)
def test_the_device_id_rule(pattern: str, topic: str, device: str | None) -> None:
    assert TopicPattern(pattern).device(topic) == device


def test_the_subscription_filter_reads_device_levels_as_plus() -> None:
    assert TopicPattern("shellies/{device}/{device}/events/rpc").topic_filter == "shellies/+/+/events/rpc"


@pytest.mark.parametrize(
    ("pattern", "match"),
    [("tele/+/SENSOR", "with a {device} level"), ("a/#/{device}", "'#' may only be the last level"),
     ("tele/x{device}/SENSOR", "expected an MQTT filter with a {device} level"),
     ("tele/{device}/SEN+SOR", "mixes a wildcard")],
)
def test_a_bad_pattern_is_a_config_error(pattern: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        TopicPattern(pattern)


def _shelly(src: str) -> bytes:
    return orjson.dumps({"src": src, "method": "NotifyStatus",
                         "params": {"ts": NOW / 1000, "switch:0": {"apower": 5.0, "aenergy": {"total": 10.0}}}})


def test_a_custom_shelly_prefix_is_routed_and_named_by_the_rule() -> None:
    options = SourceOptions.from_dict({"topics": ["shellies/{device}/{device}/events/rpc"]})
    decode, filters = message_decoder("shelly", lambda _d: "UTC", options)
    assert filters == ("shellies/+/+/events/rpc",)
    [r] = decode("shellies/kitchen/plug/events/rpc", _shelly("shellyplusplugs-1"), now_ms=NOW)
    assert r.device_id == "kitchen-plug"


def test_a_message_no_pattern_routes_is_rejected_as_unroutable_naming_the_patterns() -> None:
    decode, _ = message_decoder("tasmota", lambda _d: "UTC")
    with pytest.raises(RejectedReading) as err:
        decode("stat/plug/RESULT", b"{}", now_ms=NOW)
    assert err.value.code == "unroutable"
    assert "matches none of the tasmota topic patterns (tele/{device}/SENSOR)" in err.value.reason


def test_an_empty_device_level_is_a_bad_topic_not_a_silent_drop() -> None:
    options = SourceOptions.from_dict({"topics": "home/{device}/#"})
    decode, _ = message_decoder("tasmota", lambda _d: "UTC", options)
    with pytest.raises(RejectedReading) as err:
        decode("home//SENSOR", b'{"Time":"2026-11-27T21:00:00","ENERGY":{"Power":1}}', now_ms=NOW)
    assert err.value.code == "bad_topic"


def test_the_zone_is_looked_up_for_the_routed_device() -> None:
    seen: list[str] = []

    def zones(device: str) -> str:
        seen.append(device)
        return "Europe/Berlin"

    decode, _ = message_decoder("tasmota", zones)
    [r] = decode("tele/p/SENSOR", b'{"Time":"2026-11-27T22:00:00","ENERGY":{"Power":1}}', now_ms=NOW)
    assert seen == ["p"] and r.ts_ms == NOW  # 22:00 CET = 21:00Z


def test_shelly_gen1_subscribes_each_measurement_topic() -> None:
    assert "shellies/{device}/relay/+/energy" in DEFAULT_TOPICS["shelly-gen1"]
    _, filters = message_decoder("shelly-gen1", lambda _d: "UTC")
    assert "shellies/+/emeter/+/total_returned" in filters and len(filters) == 7


@pytest.mark.parametrize(
    ("raw", "match"),
    [({"topic": ["x"]}, "unknown keys"), ({"topics": 5}, "expected a list"), ({"channels": "both"}, "channels"),
     ({"sml": "x"}, "expected a table"), ({"sml": {"energy": 1}}, "sml.energy")],
)
def test_bad_source_options_are_config_errors(raw: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SourceOptions.from_dict(raw)


def test_settings_validate_source_options_and_accept_shelly_gen1() -> None:
    from pydantic import ValidationError

    from energymon.config import Settings

    assert Settings(source="shelly-gen1", source_options={"channels": "split"}).source == "shelly-gen1"
    with pytest.raises(ValidationError, match="source_options: unknown keys"):
        Settings(source_options={"bogus": 1})


@pytest.mark.parametrize(
    ("topic", "device"),
    [
        ("energy/apt-1/telemetry", "apt-1"),
        # Basic Ingest: IoT Core's topic() does not see $aws/rules/<rule>, so neither does the device-id rule
        ("$aws/rules/energymon_telemetry_to_kinesis/energy/apt-1/telemetry", "apt-1"),
        ("$aws/rules//energy/apt-1/telemetry", None),
        ("$aws/things/apt-1/energy/apt-1/telemetry", None),
        ("$aws/rules/r/energy/apt-1/telemetry/extra", None),
        ("$aws/rules/r/other/apt-1/telemetry", None),
    ],
)
def test_the_canonical_topic_with_and_without_basic_ingest(topic: str, device: str | None) -> None:
    assert device_from_topic(topic) == device


def test_the_agents_topic_is_the_rules_basic_ingest_topic_when_it_names_the_rule() -> None:
    assert telemetry_topic("apt-1") == "energy/apt-1/telemetry"
    assert telemetry_topic("apt-1", "energymon_telemetry_to_sqs") == "$aws/rules/energymon_telemetry_to_sqs/energy/apt-1/telemetry"
    assert device_from_topic(telemetry_topic("apt-1", "r")) == "apt-1"
