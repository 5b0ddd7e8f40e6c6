"""Each device family end to end: real payloads published to the embedded broker, read by
``energymon run --source <family>`` with a custom topic layout from the TOML, and read back with
``energymon query``; a bad payload of each family is dead-lettered with its reason.

Payload shapes: Tasmota SENSOR with SetOption129 per-channel totals (Tasmota docs, Energy), Shelly Plus
Plug S switch:0 NotifyStatus (Shelly Gen2+ API docs, Switch), Shelly Gen1 relay topics with energy in
watt-minutes (Shelly Gen1 API docs, MQTT). Expected kWh by hand from the counters.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import orjson
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _tasmota(h, i: int) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    # FullTopic %prefix%/home/%topic%/: an extra level. Two channels: 0.5 + 1.0 kWh, +1 Wh and +2 Wh per step.
    local = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(h.T0_MS // 1000 + 10 * i))
    energy = {"Total": [0.5 + i * 0.001, 1.0 + i * 0.002], "Power": [360, 720], "Voltage": 230}
    return "tele/home/dual/SENSOR", orjson.dumps({"Time": local, "ENERGY": energy})


def _shelly(h, i: int) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    # A prefix with a slash; aenergy.total in Wh rising 2.5 Wh per step.
    switch = {"id": 0, "output": True, "apower": 900.0, "voltage": 230.1, "current": 3.9,
              "aenergy": {"total": 1000.0 + 2.5 * i, "by_minute": [0, 0, 0], "minute_ts": 0}}
    body = {"src": "shellyplusplugs-e86beae8d4a4", "method": "NotifyStatus",
            "params": {"ts": h.T0_MS / 1000 + 10 * i, "switch:0": switch}}
    return "flat/kitchen/events/rpc", orjson.dumps(body)


CASES = {
    # family: (TOML source_options, device id, message maker, bad message, expected mWh, bad code)
    "tasmota": ('topics = ["tele/home/{device}/SENSOR"]\n', "dual", _tasmota,
                ("tele/home/dual/SENSOR", b'{"Time":"2026-01-01T00:00:00","AM2301":{"Temperature":21}}'),
                9_000, "no_energy_block"),  # 3 Wh per step x 3 steps
    "shelly": ('topics = ["{device}/{device}/events/rpc"]\n', "flat-kitchen", _shelly,
               ("flat/kitchen/events/rpc", b'{"method":"NotifyEvent","params":{"ts":1}}'),
               7_500, "wrong_component"),  # 2.5 Wh x 3
}


@pytest.mark.parametrize("family", list(CASES))
def test_a_device_family_is_stored_and_its_bad_payload_dead_lettered(h, runtime_factory, tmp_path, family):
    options, device, make, bad, expected_mwh, bad_code = CASES[family]
    config = tmp_path / "energymon.toml"
    config.write_text(f'source = "{family}"\n[source_options]\n{options}')
    rt = runtime_factory("--config", str(config), *h.embedded_args()).start()
    publisher = h.Publisher(rt.broker_port)
    publisher.publish_many([make(h, i) for i in range(4)] + [bad])
    publisher.close()
    h.wait_until(lambda: h.stored_readings(rt.data_dir, device) == 4 and len(h.dead_letters(rt.data_dir)) == 1,
                 what=f"{family} readings and one dead letter")
    rt.stop()
    assert h.totals(rt.data_dir, device) == (expected_mwh, 4)
    [letter] = h.dead_letters(rt.data_dir)
    assert (letter["stage"], letter["code"], letter["source"]) == ("bridge", bad_code, bad[0])


def test_shelly_gen1_watt_minutes_are_stored_as_wh(h, runtime_factory, tmp_path):
    # Gen1 messages carry no time: they are stamped when they arrive, so the query is for today.
    rt = runtime_factory("--source", "shelly-gen1", *h.embedded_args()).start()
    publisher = h.Publisher(rt.broker_port)
    base = "shellies/shellyplug-s-7A1B2C/relay/0"
    publisher.publish(f"{base}/power", b"600.0")
    # Gen1 readings are stamped on arrival: a second apart, so no two share a millisecond (and one stored reading)
    time.sleep(1.0)
    for i in range(3):  # 60 000, 60 060, 60 120 watt-minutes = 1000, 1001, 1002 Wh, a second apart (3.6 kW)
        publisher.publish(f"{base}/energy", str(60_000 + 60 * i).encode())
        time.sleep(1.0)
    publisher.publish(f"{base}/energy", b"lots")
    publisher.close()
    device = "shellyplug-s-7A1B2C"
    h.wait_until(lambda: h.stored_readings(rt.data_dir, device) == 4 and len(h.dead_letters(rt.data_dir)) == 1,
                 what="gen1 readings and one dead letter")
    rt.stop()
    today = time.strftime("%Y-%m-%d", time.gmtime())
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86_400))
    out = subprocess.run(
        [sys.executable, "-m", "energymon.runtimes.cli", "query", "--device", device, "--data-dir",
         str(rt.data_dir), "--from", today, "--to", tomorrow, "--resolution", "day", "--format", "json"],
        capture_output=True, check=True, timeout=60)
    periods = json.loads(out.stdout)["periods"]
    assert round(sum(p["import_kwh"] for p in periods) * 1_000_000) == 2_000  # 1002 - 1000 Wh (read as Wh: 120)
    [letter] = h.dead_letters(rt.data_dir)
    assert letter["code"] == "schema" and "'lots' is not a number" in letter["reason"]


def test_p1_telegrams_through_the_agent_over_tcp_into_the_runtime_and_out_of_query(h, runtime_factory, tmp_path):
    # dsmr_parser's TELEGRAM_SAGEMCOM_T210_D_R (Austria, Wh and W), re-dated each second with its CRC computed
    # again, served by a ser2net-style TCP reader; the agent publishes to the runtime's embedded broker.
    import re
    import socket
    import threading
    from datetime import datetime
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from energymon.domain.decoders.dsmr import crc16_arc

    raw = (Path(__file__).parents[1] / "events" / "devices" / "p1_austria_sagemcom_t210dr_wh.txt").read_bytes()
    vienna = ZoneInfo("Europe/Vienna")

    def telegram(i: int) -> bytes:
        local = datetime.now(vienna)
        summer = local.utcoffset() != datetime(local.year, 1, 1, tzinfo=vienna).utcoffset()
        body = raw[: raw.index(b"!") + 1]
        body = re.sub(rb"0-0:1\.0\.0\(\d{12}S\)", f"0-0:1.0.0({local:%y%m%d%H%M%S}{'S' if summer else 'W'})".encode(),
                      body)
        body = body.replace(b"1-0:1.8.0(006545766*Wh)", f"1-0:1.8.0({6545766 + i:09d}*Wh)".encode())
        return body + f"{crc16_arc(body):04X}\r\n".encode()

    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            i = 0
            while not stop.is_set():  # +1 Wh a second: 3.6 kW
                try:
                    conn.sendall(telegram(i))
                except OSError:
                    return
                i += 1
                stop.wait(1.0)

    threading.Thread(target=serve, daemon=True).start()
    rt = runtime_factory(*h.embedded_args()).start()
    config = tmp_path / "agent.toml"
    config.write_text('timezone = "Europe/Vienna"\n')
    try:
        agent = subprocess.run(
            [sys.executable, "-m", "energymon.runtimes.cli", "device", "run", "--device-id", "meter-at",
             "--source", "p1", "--p1-url", f"socket://127.0.0.1:{server.getsockname()[1]}", "--config", str(config),
             "--broker", f"mqtt://127.0.0.1:{rt.broker_port}", "--batch-interval", "1",
             "--buffer", str(tmp_path / "buffer.db"), "--duration", "6"],
            capture_output=True, timeout=60, check=False)
    finally:
        stop.set()
        server.close()
    assert agent.returncode == 0, agent.stderr.decode()
    h.wait_until(lambda: h.stored_readings(rt.data_dir, "meter-at") >= 3, what="P1 readings stored")
    rt.stop()
    stored = h.stored_readings(rt.data_dir, "meter-at")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86_400))
    out = subprocess.run(
        [sys.executable, "-m", "energymon.runtimes.cli", "query", "--device", "meter-at", "--data-dir",
         str(rt.data_dir), "--from", today, "--to", tomorrow, "--resolution", "day", "--format", "json"],
        capture_output=True, check=True, timeout=60)
    periods = json.loads(out.stdout)["periods"]
    # consecutive telegrams 1 Wh apart: (readings - 1) Wh, in Wh as sent (not x1000)
    assert round(sum(p["import_kwh"] for p in periods) * 1_000_000) == (stored - 1) * 1000
