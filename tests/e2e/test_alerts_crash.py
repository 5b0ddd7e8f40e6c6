"""Crash: the runtime SIGKILLed after an alert's state change and before anything sent it loses no notification.

The state change and its outbox row are one SQLite transaction; after the kill and a restart the row is still
there, pending, exactly once, and the incident is not raised again; once the receiver is reachable the
notification is delivered once, and the resolve after it once.
"""

import json
import os
import sqlite3
import subprocess
import sys
import time

import orjson

from alert_receivers import HttpReceiver
from energymon.adapters.mqtt.broker import free_port

CONFIG = """
alerts_interval_s = 1

[[alerts.rules]]
name = "meter-offline"
kind = "no_data"
device = "*"
for_s = 5
channels = ["hook"]

[[alerts.channels]]
name = "hook"
kind = "webhook"
url = "http://127.0.0.1:{port}/alerts"
"""
DEVICE = "apt-crash"


def _outbox(data_dir):
    path = data_dir / "alerts.db"
    if not path.exists():
        return []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute("SELECT key, channel, sent_s FROM alert_outbox ORDER BY key").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def _sample(ts_ms, seq):
    return json.dumps({"v": 1, "device_id": DEVICE, "seq": seq, "samples": [
        {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts_ms // 1000)) + ".000Z", "power_w": 300.0,
         "energy_wh": 1000.0 + seq}]}).encode()


def test_sigkill_after_a_state_change_keeps_its_notification_pending_exactly_once(h, runtime_factory, tmp_path):
    # GIVEN a webhook receiver that is down while the incident fires (nothing listens on its port yet)
    port = free_port()
    config = tmp_path / "energymon.toml"
    config.write_text(CONFIG.format(port=port))
    rt = runtime_factory(*h.embedded_args(), "--config", str(config)).start()
    # GIVEN a device that sent one reading, then went silent
    pub = h.Publisher(rt.broker_port)
    pub.publish(h.topic(DEVICE), _sample(int(time.time() * 1000), 1))
    pub.close()
    h.wait_until(lambda: h.stored_readings(rt.data_dir, DEVICE) == 1, what="the reading to be stored")
    # WHEN no_data fires (no message arrives: the alerts thread's clock does it) and the runtime is SIGKILLed
    h.wait_until(lambda: len(_outbox(rt.data_dir)) == 1, timeout_s=60, what="the no_data firing in the outbox")
    rt.kill()
    [(key, channel, sent)] = _outbox(rt.data_dir)
    assert key.startswith(f"meter-offline/{DEVICE}/") and key.endswith("/firing")
    assert (channel, sent) == ("hook", None)
    # THEN after a restart the row is still there, still pending, and the incident is not raised again
    rt.start()
    time.sleep(3)  # several ticks of the alerts thread
    assert _outbox(rt.data_dir) == [(key, "hook", None)]
    listed = subprocess.run([sys.executable, "-m", "energymon.runtimes.cli", "alerts", "list", "--config", str(config),
                             "--data-dir", str(rt.data_dir)], check=False, capture_output=True, text=True,
                            timeout=60,
                            env=dict(os.environ, COLUMNS="200"))
    assert listed.returncode == 0, listed.stderr
    assert "firing" in listed.stdout and "1 notification(s) waiting for delivery" in listed.stdout
    rt.kill()
    # WHEN the receiver comes up and the runtime starts again
    receiver = HttpReceiver(port)
    try:
        rt.start()
        # THEN the firing is delivered, once
        h.wait_until(lambda: _outbox(rt.data_dir) and _outbox(rt.data_dir)[0][2] is not None, timeout_s=120,
                     what="the firing to be delivered after the restart")
        _resume_and_stop(h, rt, key, receiver)
    finally:
        receiver.stop()


def _resume_and_stop(h, rt, key, receiver):
    # AND data resuming resolves it: a second row, the first one untouched
    pub = h.Publisher(rt.broker_port)
    pub.publish(h.topic(DEVICE), _sample(int(time.time() * 1000), 2))
    pub.close()
    h.wait_until(lambda: len(_outbox(rt.data_dir)) == 2, timeout_s=60, what="the resolve in the outbox")
    rt.stop()
    keys = [k for k, _, _ in _outbox(rt.data_dir)]
    assert keys == sorted([key, key.replace("/firing", "/resolved")])
    # AND the receiver got exactly one firing and one resolve, in that order
    delivered = [orjson.loads(r.body) for r in receiver.requests]
    assert [(d["key"], d["state"]) for d in delivered] == [(key, "firing"), (key.replace("/firing", "/resolved"),
                                                                            "resolved")]
