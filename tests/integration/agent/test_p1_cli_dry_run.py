"""``energymon device run --source p1 --dry-run`` over a TCP P1 reader (ser2net style): the readings of
real telegrams are printed. The dry-run transport used to ignore its loop timeout, so the agent loop
spun without pause and the P1 reader never delivered a reading.

Telegrams: dsmr_parser's TELEGRAM_V5 (github.com/ndokter/dsmr_parser, test/example_telegrams.py),
re-dated to now with its CRC computed again, and its Austrian Wh/W TELEGRAM_SAGEMCOM_T210_D_R likewise.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

from energymon.domain.decoders.dsmr import crc16_arc

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]
DEVICES = Path(__file__).parents[2] / "events" / "devices"


def fresh(raw: bytes, zone: str) -> bytes:
    local = datetime.now(ZoneInfo(zone))
    summer = local.utcoffset() != datetime(local.year, 1, 1, tzinfo=ZoneInfo(zone)).utcoffset()
    stamp = local.strftime("%y%m%d%H%M%S") + ("S" if summer else "W")
    body = re.sub(rb"0-0:1\.0\.0\(\d{12}[WS]\)", f"0-0:1.0.0({stamp})".encode(), raw[: raw.index(b"!") + 1])
    return body + f"{crc16_arc(body):04X}\r\n".encode()


@pytest.mark.parametrize(
    ("fixture", "zone", "energy_wh", "power_w"),
    [
        ("p1_dsmr5_iskra_mt382.txt", "Europe/Amsterdam", 6825.0, 244.0),  # 4.426 + 2.399 kWh; 0.244 kW
        ("p1_austria_sagemcom_t210dr_wh.txt", "Europe/Vienna", 6_545_766.0, 286.0),  # already Wh and W
    ],
)
def test_dry_run_prints_the_readings_of_a_tcp_p1_reader(tmp_path: Path, fixture: str, zone: str,
                                                         energy_wh: float, power_w: float) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            while not stop.is_set():  # one telegram a second, as a DSMR 5 meter sends
                try:
                    conn.sendall(fresh((DEVICES / fixture).read_bytes(), zone))
                except OSError:
                    return
                stop.wait(1.0)

    threading.Thread(target=serve, daemon=True).start()
    config = tmp_path / "agent.toml"
    config.write_text(f'timezone = "{zone}"\n')
    try:
        out = subprocess.run(
            [sys.executable, "-m", "energymon.runtimes.cli", "device", "run", "--device-id", "apt-1",
             "--source", "p1", "--p1-url", f"socket://127.0.0.1:{port}", "--config", str(config), "--dry-run",
             "--batch-interval", "1", "--buffer", str(tmp_path / "b.db"), "--duration", "6"],
            capture_output=True, timeout=60, check=False,
        )
    finally:
        stop.set()
        server.close()
    assert out.returncode == 0, out.stderr.decode()
    lines = [line for line in out.stdout.decode().splitlines() if line.startswith("energy/apt-1/telemetry ")]
    assert lines, out.stdout.decode() + out.stderr.decode()
    sample = orjson.loads(lines[0].split(" ", 1)[1])["samples"][0]
    assert (sample["energy_wh"], sample["power_w"]) == (energy_wh, power_w)


def test_the_dry_run_loop_waits_its_timeout_when_it_has_nothing_to_acknowledge() -> None:
    from energymon.agent import DryRunTransport

    waits: list[float] = []
    acked: list[int] = []
    transport = DryRunTransport(lambda _line: None, sleep=waits.append)
    transport.on_ack = lambda mid, *_: acked.append(mid)
    transport.connect()
    transport.loop(0.05)  # delivers the CONNACK: returns at once
    mid = transport.publish("energy/apt-1/telemetry", b"{}")
    transport.loop(0.05)  # delivers the PUBACK: returns at once
    assert (acked, waits) == ([mid], [])
    transport.loop(0.05)  # nothing to do: waits, as a network loop does
    transport.loop(0.02)
    assert waits == [0.05, 0.02]
