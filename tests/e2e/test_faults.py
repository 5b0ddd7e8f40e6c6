"""Faults a user can see (issue 9): a component that dies stops the runtime loudly; a read-only archive keeps
nothing out of the store and ``energymon dead-letters reprocess`` recovers the archive; a full disk shows in
health, says each failure once, stops with a message instead of a traceback, and loses nothing.

The disk faults are real: small tmpfs mounts (these tests run as root, as CI does)."""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

SAMPLES = 10


def _mount_tmpfs(path: Path, size: str, *, read_only: bool = False) -> None:
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True,
                            text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"these fault tests need to mount a tmpfs (run as root, as CI does): {result.stderr.strip()}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


def _health(runtime: Any) -> tuple[int, dict[str, Any]]:
    info = runtime.info()
    assert info and info.get("web_url"), "runtime.json has no web_url"
    try:
        with urllib.request.urlopen(info["web_url"] + "healthz", timeout=5) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "energymon.runtimes.cli", *args], capture_output=True, text=True,
                          check=check, timeout=120, env=dict(os.environ, COLUMNS="300"))


# --- a component that dies -------------------------------------------------------------------------------

def test_given_a_component_whose_thread_dies_then_the_runtime_stops_loudly_instead_of_running_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from energymon.adapters.mqtt import bridge
    from energymon.runtimes import cli

    # GIVEN a bridge writer that dies of something no handler expects (the red-team's silent stop)
    def die(self: Any) -> None:
        raise MemoryError("injected: the writer thread ends")

    monkeypatch.setattr(bridge.Bridge, "_write_loop", die)
    # `run` sets up logging and a SIGTERM handler for its process: here that is pytest's, so put them back after.
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    monkeypatch.setattr(signal, "signal", lambda *_: None)
    # WHEN the runtime runs (it would run for a minute)
    result = CliRunner().invoke(cli.app, ["run", "--data-dir", str(tmp_path / "data"), "--simulate", "0",
                                          "--port", "0", "--web-port", "0", "--duration", "60", "--no-live"])
    # THEN it stops by itself, naming the part that died and why, with a failing exit code
    assert result.exit_code == 1, result.output
    assert "bridge-writer has stopped (MemoryError: injected: the writer thread ends)" in result.output
    assert "energymon stops rather than run without it" in result.output


# --- an archive that cannot be written --------------------------------------------------------------------

def test_given_a_read_only_archive_then_readings_are_stored_and_reprocess_fills_the_archive(
    h: Any, runtime_factory: Any, mosquitto: Any, tmp_path: Path
) -> None:
    mosquitto.extra_config = "allow_anonymous true\nmax_queued_messages 0"
    address = mosquitto.start()
    data = tmp_path / "data"
    archive = data / "archive"
    config = tmp_path / "energymon.toml"
    config.write_text("max_retry_attempts = 1\n")  # give up quickly, so the test sees the dead letters
    rt = runtime_factory("--broker", f"mqtt://127.0.0.1:{address.port}", "--simulate", "0",
                         "--batching-window", "0", "--web-port", "0", "--config", str(config),
                         data_dir=data).start()
    # GIVEN the archive folder turns read-only under the running runtime (a start refuses one outright)
    _mount_tmpfs(archive, "1m", read_only=True)
    try:
        # WHEN 20 messages arrive while the archive is read-only
        publisher = h.Publisher(address.port)
        publisher.publish_many([(h.topic("apt-1"), h.message("apt-1", seq, SAMPLES)) for seq in range(20)])
        publisher.close()
        # THEN every reading reaches the store anyway ...
        h.wait_until(lambda: h.stored_readings(data, "apt-1") == 20 * SAMPLES, 60, "readings in the store")
        # ... and the batches the archive refused wait, whole, as given-up dead letters
        h.wait_until(lambda: any(d["code"] == "delivery_failed" for d in h.dead_letters(data)), 60,
                     "given-up records")
        out = rt.stop()
        given_up = [d for d in h.dead_letters(data) if d["code"] == "delivery_failed"]
        assert given_up and all("retry attempts exhausted" in d["reason"] for d in given_up), given_up
        listing = _cli("dead-letters", "--data-dir", str(data)).stdout
        assert f"{len(given_up)} given up and not yet reprocessed" in listing
        assert "Traceback" not in out[out.index("energymon: stopping"):]
        assert out.count("archiving") <= 3, out  # said once per interval, not once per batch
    finally:
        _umount(archive)
    # WHEN the disk is writable again and the user reprocesses (twice)
    first = _cli("dead-letters", "reprocess", "--data-dir", str(data))
    again = _cli("dead-letters", "reprocess", "--data-dir", str(data))
    # THEN the archive holds every reading, the store's numbers did not move, the second run had nothing to do
    assert f"reprocessed {len(given_up)} record(s)" in first.stdout and "0 failed again" in first.stdout
    assert "nothing to reprocess" in again.stdout
    archived = set()
    for path in archive.rglob("*.ndjson.gz"):
        archived |= {orjson.loads(line)["ts"] for line in gzip.decompress(path.read_bytes()).splitlines()}
    assert len(archived) == 20 * SAMPLES
    assert h.totals(data, "apt-1") == (h.expected_mwh(20 * SAMPLES), 20 * SAMPLES)
    assert h.stored_readings(data, "apt-1") == 20 * SAMPLES


# --- a full disk -----------------------------------------------------------------------------------------------

def _fill(directory: Path) -> Path:
    """Take every free byte of the file system ``directory`` is on; return the file to delete later."""
    filler = directory / "filler"
    # Unbuffered, and the error suppressed around the open too: closing a buffered file would flush (and fail).
    with contextlib.suppress(OSError), open(filler, "wb", buffering=0) as out:
        while True:
            out.write(b"\0" * 65536)
    return filler


def test_given_a_full_disk_then_health_says_so_logs_stay_short_stop_says_where_the_data_is_and_nothing_is_lost(
    h: Any, runtime_factory: Any, mosquitto: Any, tmp_path: Path
) -> None:
    mosquitto.extra_config = "allow_anonymous true\nmax_queued_messages 0\nmax_inflight_messages 0"
    address = mosquitto.start()
    data = tmp_path / "data"
    _mount_tmpfs(data, "24m")
    try:
        args = ("--broker", f"mqtt://127.0.0.1:{address.port}", "--simulate", "0", "--batching-window", "0",
                "--web-port", "0")
        rt = runtime_factory(*args, data_dir=data).start()
        publisher = h.Publisher(address.port)
        publisher.publish_many([(h.topic("apt-1"), h.message("apt-1", seq, SAMPLES)) for seq in range(10)])
        h.wait_until(lambda: h.stored_readings(data, "apt-1") == 10 * SAMPLES, 60, "the first readings")
        assert _health(rt)[0] == 200
        # WHEN the disk fills up and 40 more messages arrive
        filler = _fill(data)
        for seq in range(10, 50):
            publisher.client.publish(h.topic("apt-1"), h.message("apt-1", seq, SAMPLES), qos=1)

        def degraded() -> bool:
            status, body = _health(rt)
            return status == 503 and any("full" in c["reason"] for c in body["components"].values())

        # THEN health answers 503 naming the component and the reason
        h.wait_until(degraded, 60, "health to report the full disk")
        _, body = _health(rt)
        assert body["status"] == "degraded"
        # AND after a while of failing, each distinct failure has been said once, not thousands of times
        h.wait_until(lambda: rt.output().count("could not append") >= 1, 30, "the failure in the log")
        time.sleep(5)
        out = rt.output()
        assert out.count("Traceback") <= 5, out[-3000:]
        # WHEN the user stops it
        rt.process.send_signal(signal.SIGINT)
        rc = rt.process.wait(timeout=120)
        out = rt.output()
        # THEN it ends with a message saying what it could not store and where it still is, not a traceback
        assert rc == 1, out
        tail = out[out.index("energymon: stopping"):]
        assert "Traceback" not in tail, tail
        assert "stay with the broker" in tail, tail
        publisher.close()
        # WHEN there is room again and the runtime starts once more
        filler.unlink()
        rt2 = runtime_factory(*args, data_dir=data).start()
        # THEN every reading of all 50 messages is stored, exactly once
        h.wait_until(lambda: h.stored_readings(data, "apt-1") == 50 * SAMPLES, 90, "all readings after the restart")
        rt2.stop()
        assert h.totals(data, "apt-1") == (h.expected_mwh(50 * SAMPLES), 50 * SAMPLES)
    finally:
        _umount(data)
