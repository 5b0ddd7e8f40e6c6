"""The embedded broker's device policy as pure functions: what a device and a service may do, Wills included."""

from __future__ import annotations

import pytest
from amqtt.contexts import Action
from hypothesis import given
from hypothesis import strategies as st

from energymon.adapters.mqtt.broker_security import allowed, will_allowed

SERVICES = ["energymon-bridge"]


def may(identity: str | None, topic: str | None, action: Action) -> bool:
    return allowed(identity, topic, action, SERVICES, "energy")


def may_will(identity: str | None, topic: str | None) -> bool:
    return will_allowed(identity, topic, SERVICES, "energy")


def test_a_device_publishes_only_under_its_own_topic_and_never_subscribes() -> None:
    assert may("apt-1", "energy/apt-1/telemetry", Action.PUBLISH)
    assert not may("apt-1", "energy/apt-2/telemetry", Action.PUBLISH)
    assert not may("apt-1", "energy/apt-1", Action.PUBLISH)
    assert not may("apt-1", "energy/apt-1/", Action.PUBLISH)
    assert not may("apt-1", "energy/apt-10/telemetry", Action.PUBLISH)
    assert not may("apt-1", "energy/apt-1/telemetry", Action.SUBSCRIBE)
    assert not may("apt-1", "energy/apt-1/telemetry", Action.RECEIVE)


def test_a_service_subscribes_and_receives_everything_and_publishes_nothing() -> None:
    assert may("energymon-bridge", "energy/+/telemetry", Action.SUBSCRIBE)
    assert may("energymon-bridge", "energy/apt-2/telemetry", Action.RECEIVE)
    assert not may("energymon-bridge", "energy/energymon-bridge/telemetry", Action.PUBLISH)


def test_no_identity_or_no_topic_is_refused() -> None:
    assert not may(None, "energy/apt-1/telemetry", Action.PUBLISH)
    assert not may("", "energy//telemetry", Action.PUBLISH)
    assert not may("apt-1", None, Action.PUBLISH)


def test_a_will_on_the_devices_own_topic_is_allowed() -> None:
    # GIVEN apt-1, WHEN it sets a Will on its own telemetry topic, THEN the broker may publish it for it
    assert may_will("apt-1", "energy/apt-1/telemetry")
    assert may_will("apt-1", "energy/apt-1/status")


@pytest.mark.parametrize("topic", [
    "energy/apt-2/telemetry",      # another device: the red team's Will
    "energy/apt-1",                # not under energy/apt-1/
    "energy/apt-1/",
    "energy/apt-10/telemetry",     # a prefix of another id is not the device's own
    "energy/apt-1/#",              # a filter, not a topic name: a broker must never publish to it
    "energy/apt-1/+",
    "energy/+/telemetry",
    "$SYS/broker/clients",
    "",
    None,
])
def test_a_will_outside_the_devices_own_topics_is_refused(topic: str | None) -> None:
    assert not may_will("apt-1", topic)


def test_a_service_may_set_no_will() -> None:
    # the bridge publishes nothing, so a Will in its name (e.g. from a client claiming its id) is refused too
    assert not may_will("energymon-bridge", "energy/energymon-bridge/telemetry")
    assert not may_will("energymon-bridge", "energy/apt-1/telemetry")
    assert not may_will(None, "energy/apt-1/telemetry")


_LEVEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=0, max_size=8)


@given(identity=st.sampled_from(["apt-1", "apt-2", "energymon-bridge"]),
       levels=st.lists(st.one_of(_LEVEL, st.sampled_from(["energy", "apt-1", "apt-2", "+", "#", "$SYS"])),
                       min_size=1, max_size=4))
def test_a_will_is_allowed_exactly_when_the_same_publish_would_be(identity: str, levels: list[str]) -> None:
    # the Will rule is the publish rule on topic names; filters and $ topics are never publishable
    topic = "/".join(levels)
    publishable_name = not (topic.startswith("$") or "+" in topic or "#" in topic)
    assert may_will(identity, topic) == (publishable_name and may(identity, topic, Action.PUBLISH))
