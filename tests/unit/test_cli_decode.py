"""``energymon decode``: the canonical v1 message a payload becomes (exit 0) or why it is refused (exit 2),
from the very decoder the bridge runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from energymon.adapters.mqtt.sources import message_decoder
from energymon.runtimes.cli import app

DEVICES = Path(__file__).parents[1] / "events" / "devices"
runner = CliRunner()
NOW = "2026-11-27T21:00:30Z"


def run(*args: str, stdin: bytes | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, ["decode", *args], input=stdin)


def test_a_tasmota_payload_becomes_the_canonical_message() -> None:
    result = run("--format", "tasmota", "--topic", "tele/plug/SENSOR", "--timezone", "Europe/Berlin",
                 "--received-at", NOW, str(DEVICES / "tasmota_sensor_multichannel.json"))
    assert result.exit_code == 0, result.output
    # Time 21:00 in Berlin (CET) = 20:00Z; Total 2.5 kWh; Power 120 + 35 W; Voltage first; Current summed
    assert orjson.loads(result.stdout) == {"v": 1, "device_id": "plug", "samples": [
        {"ts": "2026-11-27T20:00:00.000Z", "power_w": 155.0, "energy_wh": 2500.0, "voltage_v": 230.0,
         "current_a": pytest.approx(0.739)}]}


def test_the_output_is_what_the_bridge_decoder_makes() -> None:
    payload = (DEVICES / "shelly_plus1pm_switch.json").read_bytes()
    result = run("--format", "shelly", "--received-at", NOW, "-", stdin=payload)
    assert result.exit_code == 0, result.output
    route, _ = message_decoder("shelly", lambda _d: "UTC")
    [reading] = route("shellyplus1pm-a8032ab12345/events/rpc", payload, now_ms=1_795_813_230_000)
    message = orjson.loads(result.stdout)
    assert message["device_id"] == reading.device_id == "shellyplus1pm-a8032ab12345"  # from src, no topic given
    assert message["samples"] == [{k: v for k, v in reading.to_dict().items() if k != "device_id"}]


def test_a_p1_telegram_from_a_file_takes_the_device_id_and_zone() -> None:
    result = run("--format", "dsmr", "--device-id", "meter-at", "--timezone", "Europe/Vienna",
                 "--received-at", "2022-10-06T14:00:00Z", str(DEVICES / "p1_austria_sagemcom_t210dr_wh.txt"))
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["samples"] == [
        {"ts": "2022-10-06T13:50:14.000Z", "power_w": 286.0, "energy_wh": 6_545_766.0, "export_wh": 58.0}]


def test_split_channels_print_one_message_per_device(tmp_path: Path) -> None:
    config = tmp_path / "e.toml"
    config.write_text('source = "tasmota"\n[source_options]\nchannels = "split"\n')
    payload = b'{"Time":"2026-11-27T21:00:00","ENERGY":{"Total":[0.5,1.2],"Power":[15,60]}}'
    result = run("--format", "tasmota", "--config", str(config), "--topic", "tele/dual/SENSOR",
                 "--received-at", NOW, "-", stdin=payload)
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [(m["device_id"], m["samples"][0]["energy_wh"]) for m in lines] == [("dual-ch1", 500.0),
                                                                               ("dual-ch2", 1200.0)]


@pytest.mark.parametrize(
    ("args", "stdin", "reason"),
    [
        (["--format", "tasmota", "--topic", "tele/t/SENSOR"], b'{"Time":"2026-11-27T21:00:00","AM2301":{}}',
         "refused [no_energy_block]: Tasmota message has no ENERGY block"),
        (["--format", "dsmr", "--timezone", "Europe/Vienna"], (DEVICES / "p1_austria_sagemcom_t210dr_wh.txt").read_bytes(),
         "refused [too_old]"),  # judged as received now: a 2022 telegram is too old to store
        (["--format", "shelly", "--device-id", "a", "--topic", "b/events/rpc"],
         (DEVICES / "shelly_plus1pm_switch.json").read_bytes(), "refused [spoofed]"),
        (["--format", "canonical", "--topic", "energy/x/telemetry"], b"{not json", "refused [not_json]"),
        (["--format", "shelly-gen1"], b"12", "pass --topic"),
        (["--format", "tasmota"], b"{}", "pass --topic or --device-id"),
        (["--format", "tasmota", "--timezone", "Mars/Olympus", "--device-id", "x"], b"{}", "Mars/Olympus"),
        (["--format", "tasmota", "--device-id", "x", "--received-at", "yesterday"], b"{}", "not an ISO 8601"),
    ],
)
def test_refusals_and_bad_options_exit_2_with_the_reason(args: list[str], stdin: bytes, reason: str) -> None:
    result = run(*args, "-", stdin=stdin)
    assert result.exit_code == 2
    assert reason in result.stderr.replace("\n", " ")


def test_a_missing_file_is_a_clear_error() -> None:
    result = run("--format", "tasmota", "--device-id", "x", "/nonexistent/payload.json")
    assert result.exit_code == 2
    assert "cannot read /nonexistent/payload.json" in result.stderr


def test_the_installed_command_reads_standard_input() -> None:
    payload = b'{"v":1,"device_id":"apt-1","samples":[{"ts":"2026-11-27T21:00:00Z","power_w":5,"energy_wh":7}]}'
    out = subprocess.run([sys.executable, "-m", "energymon.runtimes.cli", "decode", "--received-at", NOW],
                         input=payload, capture_output=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert orjson.loads(out.stdout)["samples"] == [{"ts": "2026-11-27T21:00:00.000Z", "power_w": 5.0,
                                                    "energy_wh": 7.0}]
