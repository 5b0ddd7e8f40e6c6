"""A restarted energymon never tells Home Assistant a lower total than the broker already holds."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import paho.mqtt.client as mqtt
import pytest

from energymon.adapters.mqtt.ha_discovery import HaDiscovery, HaTopics
from energymon.application.ha_figures import DeviceFigures

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

FIGURES = DeviceFigures("apt-1", None, 2.0, 0.0, 300.0, True, 0.4, None, None, "2026-12-02T00:00:00+00:00")


def _run_once(address, figures: DeviceFigures) -> None:
    ha = HaDiscovery(address, HaTopics(), confirm_timeout_s=3)
    ha.start()
    assert ha.wait_connected(10)
    ha.publish([figures])
    assert ha.problem is None, ha.problem
    ha.stop()


def test_the_retained_state_is_the_floor_after_a_restart(amqtt_broker):
    # GIVEN 2.0 kWh told to Home Assistant by one run
    _run_once(amqtt_broker, FIGURES)
    # WHEN the next run's derived total is lower (a recompute, or a store started over)
    _run_once(amqtt_broker, replace(FIGURES, import_kwh=1.5))
    # THEN the state on the broker still says 2.0 kWh: Home Assistant never sees the total fall
    seen: list[dict[str, object]] = []
    got = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="floor-check", protocol=mqtt.MQTTv311)

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        seen.append(json.loads(msg.payload))
        got.set()

    client.on_message = on_message
    client.connect(amqtt_broker.host, amqtt_broker.port)
    client.subscribe("energymon/apt-1/state", 1)
    client.loop_start()
    try:
        assert got.wait(10)
        time.sleep(0.2)
    finally:
        client.disconnect()
        client.loop_stop()
    assert seen[-1]["import_kwh"] == 2.0
