"""GIVEN a home broker with Tasmota and Shelly devices, WHEN the runtime reads them directly (--source),
THEN their readings are stored as canonical readings and bad payloads are dead-lettered with a reason."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import orjson
import paho.mqtt.client as mqtt
import pytest

from energymon.adapters.local.archive import FolderArchive
from energymon.adapters.local.deadletters import SqliteDeadLetters
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.local.poller import EventSourceMapping, ShardPoller
from energymon.adapters.local.store import SqliteStore
from energymon.adapters.local.stream import LocalStream
from energymon.adapters.mqtt.bridge import Bridge
from energymon.adapters.mqtt.sources import bridge_decoder
from energymon.processing import Processor, ZoneResolver

if TYPE_CHECKING:
    from pathlib import Path

    from energymon.adapters.mqtt.client import BrokerAddress

pytestmark = pytest.mark.integration


def _publish(address: BrokerAddress, messages: list[tuple[str, bytes]]) -> None:
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-publisher")
    client.connect(address.host, address.port)
    client.loop_start()
    for topic, payload in messages:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def _wait(condition, timeout_s: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _tasmota(total_kwh: float, power: float, local_time: str) -> bytes:
    return orjson.dumps({"Time": local_time, "ENERGY": {"Total": total_kwh, "Power": power, "Voltage": 230}})


# Yesterday at noon in Berlin (readings must be recent: weeks-old readings are refused at arrival).
_NOON = (datetime.now(ZoneInfo("Europe/Berlin")) - timedelta(days=1)).replace(hour=12, minute=0, second=0,
                                                                              microsecond=0)


def _local(seconds: int) -> str:
    return (_NOON + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")


def test_tasmota_plugs_are_read_in_their_local_zone_and_stored(amqtt_broker: BrokerAddress, tmp_path: Path) -> None:
    zones = ZoneResolver("Europe/Berlin")
    stream = LocalStream(tmp_path / "stream.db", shards=1)
    dead = SqliteDeadLetters(tmp_path / "dl.db")
    metrics = PrometheusMetrics()
    decoder, topic_filter = bridge_decoder("tasmota", zones)
    bridge = Bridge(amqtt_broker, stream, dead, metrics, topic_filter=topic_filter, decoder=decoder,
                    client_id="bridge-tasmota")
    bridge.start()
    try:
        # GIVEN a plug reporting every 10 s (local Berlin time, no zone in the payload) and one broken message
        _publish(amqtt_broker, [
            ("tele/plug-1/SENSOR", _tasmota(10.000, 600, _local(0))),
            ("tele/plug-1/SENSOR", _tasmota(10.001, 600, _local(10))),
            ("tele/plug-1/SENSOR", _tasmota(10.003, 600, _local(20))),
            ("tele/plug-1/SENSOR", orjson.dumps({"Time": _local(30), "ANALOG": {"A0": 3}})),
        ])
        _wait(lambda: stream.lag("processor") == 3 and dead.count() == 1)
    finally:
        bridge.stop()

    store = SqliteStore(tmp_path / "store.db")
    processor = Processor(store, FolderArchive(tmp_path / "archive"), dead, metrics, zones)
    ShardPoller(stream, stream.shard_ids()[0], processor.handle, EventSourceMapping(batching_window_s=0),
                dead, metrics).drain()

    # THEN 3 Wh are stored, in the hour of 12:00 Berlin time, and the broken message is kept with its reason
    periods = store.periods("plug-1", "hour", 0, 2**42, "Europe/Berlin")
    assert [(p.start, round(p.import_kwh * 1000, 3)) for p in periods] == [(_NOON.isoformat()[:16] +
                                                                            _NOON.isoformat()[19:], 3.0)]
    (letter,) = dead.recent()
    assert letter.stage == "bridge"
    assert letter.code == "no_energy_block"
    assert "ENERGY" in letter.reason
    assert letter.source == "tele/plug-1/SENSOR"


def test_an_unknown_source_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="cannot be read from a broker"):
        bridge_decoder("dsmr", ZoneResolver())
