"""Alert channels against real receivers: an HTTP server (webhook, ntfy), an SMTP server (aiosmtpd), a real
Mosquitto with a late subscriber; the outbox dispatcher retrying a webhook that answers 500 and an SMTP server
that refuses, without losing a notification or holding up another channel; and ``energymon alerts test``."""

from __future__ import annotations

import os
import random
import ssl
import subprocess
import sys
from collections.abc import Iterator
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import orjson
import pytest

import energymon
from alert_receivers import HttpReceiver, SmtpReceiver, Subscriber
from energymon.adapters.local.metrics import PrometheusMetrics
from energymon.adapters.notify import build_channel, build_channels, parse_channels
from energymon.application.alert_dispatch import OutboxDispatcher
from energymon.deploy.certs import ensure_ca
from energymon.domain.alerts.notification import Notification
from energymon.errors import DeliveryError
from energymon.ports import OutboxItem
from outbox_fake import MemoryOutbox

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

START_MS = 1_780_000_000_000
FIRING = Notification("kettle-left-on", "power_above", "apt-1", "firing", START_MS, 2412.5, 2000, "W",
                      message="Kettle on apt-1 above 2000 W since 21:14")
RESOLVED = Notification("kettle-left-on", "power_above", "apt-1", "resolved", START_MS, 1650, 2000, "W",
                        ended_at_ms=START_MS + 180_000)


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    yield receiver
    receiver.stop()


def channel(**table: Any) -> Any:
    (settings,) = parse_channels([{"name": "c", **table}])
    return build_channel(settings)


# --- webhook and ntfy -------------------------------------------------------------------------------------------


def test_webhook_posts_the_body_as_json_with_its_headers(http: HttpReceiver) -> None:
    hook = channel(kind="webhook", url=f"{http.url}/alerts", headers={"X-Token": "abc"})
    hook.send(FIRING.body())
    (got,) = http.requests
    assert got.path == "/alerts"
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Token"] == "abc"
    assert got.headers["Idempotency-Key"] == FIRING.key
    body = orjson.loads(got.body)
    assert body == orjson.loads(orjson.dumps(FIRING.body()))
    assert (body["rule"], body["state"], body["value"], body["threshold"]) == ("kettle-left-on", "firing", 2412.5, 2000)


def test_webhook_failure_says_what_the_receiver_answered(http: HttpReceiver) -> None:
    http.statuses = [500]
    with pytest.raises(DeliveryError, match=r"/alerts answered HTTP 500 Internal Server Error: broken today"):
        channel(kind="webhook", url=f"{http.url}/alerts").send(FIRING.body())
    closed = f"http://127.0.0.1:{_closed_port()}/alerts"
    with pytest.raises(DeliveryError, match=r"could not reach http://127\.0\.0\.1:\d+/alerts: .*refused"):
        channel(kind="webhook", url=closed, timeout_s=2).send(FIRING.body())


def test_ntfy_posts_to_server_topic_with_title_priority_tags_and_token(http: HttpReceiver) -> None:
    phone = channel(kind="ntfy", server=http.url, topic="energy-home", priority="high", tags=["zap"], token="tk_x")
    phone.send(RESOLVED.body())
    (got,) = http.requests
    assert got.path == "/energy-home"
    assert got.headers["Title"] == "energymon: kettle-left-on resolved on apt-1"
    assert got.headers["Priority"] == "high"
    assert got.headers["Tags"] == "zap,white_check_mark"
    assert got.headers["Authorization"] == "Bearer tk_x"
    text = got.body.decode()
    assert "kettle-left-on (power_above) is resolved on apt-1" in text and "lasted 180 s" in text


def test_ntfy_title_with_a_non_ascii_device_is_rfc2047_encoded(http: HttpReceiver) -> None:
    kitchen = Notification("fridge", "power_below", "Küche", "firing", START_MS, 3, 10, "W")
    channel(kind="ntfy", server=http.url, topic="t").send(kitchen.body())
    (got,) = http.requests
    assert str(make_header(decode_header(got.headers["Title"]))) == "energymon: fridge firing on Küche"


# --- e-mail -----------------------------------------------------------------------------------------------------


def test_email_arrives_with_subject_recipients_and_the_body(smtp: SmtpReceiver) -> None:
    mail = channel(kind="email", host="127.0.0.1", port=smtp.port, **{"from": "energymon@home.test"},
                   to=["a@home.test", "b@home.test"])
    mail.send(FIRING.body())
    ((sender, recipients, message),) = smtp.messages
    assert sender == "energymon@home.test" and recipients == ["a@home.test", "b@home.test"]
    assert message["Subject"] == "energymon: kettle-left-on firing on apt-1"
    assert message["X-Energymon-Key"] == FIRING.key
    text = message.get_content()
    assert text.startswith("Kettle on apt-1 above 2000 W since 21:14")
    assert '"threshold": 2000' in text and '"state": "firing"' in text


def test_email_over_starttls_with_a_private_ca(tmp_path: Path) -> None:
    paths = ensure_ca(tmp_path / "certs")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(paths.server_cert, paths.server_key)
    server = SmtpReceiver(tls_context=context, require_starttls=True)
    try:
        plain = channel(kind="email", host="127.0.0.1", port=server.port, **{"from": "e@h.test"}, to=["me@h.test"])
        with pytest.raises(DeliveryError, match="refused the message: 530"):  # the server insists on TLS
            plain.send(FIRING.body())
        secure = channel(kind="email", host="127.0.0.1", port=server.port, starttls=True,
                         ca_file=str(paths.ca_cert), **{"from": "e@h.test"}, to=["me@h.test"])
        secure.send(FIRING.body())
        assert [m["Subject"] for _, _, m in server.messages] == ["energymon: kettle-left-on firing on apt-1"]
    finally:
        server.stop()


def test_email_refused_and_unreachable_are_one_line_errors(smtp: SmtpReceiver) -> None:
    smtp.mailbox.refuse_rcpt = "550 5.1.1 <me@home.test>: mailbox unavailable"
    mail = channel(kind="email", host="127.0.0.1", port=smtp.port, **{"from": "e@home.test"}, to=["me@home.test"])
    with pytest.raises(DeliveryError, match=r"refused every recipient: me@home.test 550 5\.1\.1"):
        mail.send(FIRING.body())
    gone = channel(kind="email", host="127.0.0.1", port=_closed_port(), **{"from": "e@h.test"}, to=["me@h.test"])
    with pytest.raises(DeliveryError, match=r"SMTP 127\.0\.0\.1:\d+ failed: .*refused"):
        gone.send(FIRING.body())


# --- retained MQTT ----------------------------------------------------------------------------------------------


def test_mqtt_keeps_the_current_state_retained_for_late_subscribers(mosquitto: Any) -> None:
    broker = mosquitto.start()
    ha = channel(kind="mqtt", broker=broker.url)
    topic = "energymon/alerts/kettle-left-on/apt-1"

    ha.send(FIRING.body())
    # GIVEN a subscriber that connects only after the alert fired THEN it still reads "firing"
    payload, retained = Subscriber(broker).retained("energymon/alerts/#")[topic]
    assert retained and orjson.loads(payload)["state"] == "firing"

    ha.send(RESOLVED.body())
    ha.send(Notification("energymon-test", "test", "energymon", "test", START_MS).body())
    state = Subscriber(broker).retained("energymon/alerts/#")
    payload, retained = state[topic]
    assert retained and orjson.loads(payload)["state"] == "resolved"
    assert orjson.loads(payload)["duration_s"] == 180
    assert set(state) == {topic}  # a test notification is no state: it is not kept


def test_mqtt_topic_levels_are_safe_and_a_missing_broker_fails_clearly(mosquitto: Any) -> None:
    broker = mosquitto.start()
    odd = Notification("a/b+c", "power_above", "dev#1", "firing", START_MS)
    channel(kind="mqtt", broker=broker.url, topic_prefix="home/alerts").send(odd.body())
    assert set(Subscriber(broker).retained("home/alerts/#")) == {"home/alerts/a_b_c/dev_1"}
    gone = channel(kind="mqtt", broker=f"mqtt://127.0.0.1:{_closed_port()}", timeout_s=3)
    with pytest.raises(DeliveryError, match=r"MQTT broker mqtt://127\.0\.0\.1:\d+ unreachable"):
        gone.send(FIRING.body())


# --- the dispatcher with real receivers -------------------------------------------------------------------------


def test_webhook_500_is_retried_with_backoff_and_smtp_refusal_holds_up_no_other(
    http: HttpReceiver, smtp: SmtpReceiver
) -> None:
    ntfy = HttpReceiver()
    channels = build_channels(parse_channels([
        {"name": "hook", "kind": "webhook", "url": f"{http.url}/alerts"},
        {"name": "mail", "kind": "email", "host": "127.0.0.1", "port": smtp.port, "from": "e@h.test",
         "to": ["me@h.test"]},
        {"name": "phone", "kind": "ntfy", "server": ntfy.url, "topic": "t"},
    ]))
    outbox, metrics = MemoryOutbox(), PrometheusMetrics()
    outbox.add([OutboxItem(n.key, c, n.body()) for n in (FIRING, RESOLVED) for c in ("hook", "mail", "phone")])
    dispatcher = OutboxDispatcher(outbox, channels, metrics, clock=lambda: now, rng=random.Random(3))
    http.statuses = [500, 500]  # the webhook is down for its first two attempts
    smtp.mailbox.refuse_rcpt = "451 4.3.0 try again later"

    now = 1_000_000.0
    first = dispatcher.run_once()
    # THEN ntfy got both, the failed webhook was tried once (not once per row), mail was refused once
    assert first.sent == 2 and first.failed == 4
    assert http.answered == [500] and ntfy.answered == [200, 200]
    ntfy.stop()
    assert len(smtp.messages) == 0
    retry_at = [r.next_attempt_s for r in outbox.pending()]
    assert len(retry_at) == 4 and all(24 <= t - now <= 30 for t in retry_at)  # 30 s, jittered

    now = min(retry_at) - 0.5
    assert dispatcher.run_once().failed == 0  # nothing is retried early
    now = max(retry_at)
    assert dispatcher.run_once().failed == 4  # second failure of the webhook; mail still refuses
    second_wait = {r.channel: r.next_attempt_s - now for r in outbox.pending()}
    assert all(48 <= w <= 60 for w in second_wait.values()), second_wait  # doubled

    smtp.mailbox.refuse_rcpt = None  # both recover
    now += 60
    assert dispatcher.run_once().sent == 4
    assert outbox.pending() == []
    webhook = [orjson.loads(r.body)["state"] for r in http.requests if r.path == "/alerts"]
    assert webhook == ["firing", "resolved"]  # nothing lost, in order, each once
    assert [m["Subject"].split()[2] for _, _, m in smtp.messages] == ["firing", "resolved"]
    assert metrics.registry.get_sample_value("energymon_alert_notifications_failed_total", {"channel": "hook"}) == 4  # 2 rows x 2 passes
    assert metrics.registry.get_sample_value("energymon_alert_notifications_sent_total", {"channel": "mail"}) == 2


# --- energymon alerts test --------------------------------------------------------------------------------------


def run_energymon(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENERGYMON_")}
    env |= {"COLUMNS": "1000", "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8",
            "PYTHONPATH": str(Path(energymon_src()).resolve())}
    return subprocess.run([sys.executable, "-m", "energymon.runtimes.cli", *map(str, args)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60, check=False)


def energymon_src() -> Path:
    return Path(energymon.__file__).parents[1]


def test_alerts_test_delivers_or_says_why_not(tmp_path: Path, http: HttpReceiver, smtp: SmtpReceiver) -> None:
    config = tmp_path / "energymon.toml"
    config.write_text(f"""
[[alerts.channels]]
name = "hook"
kind = "webhook"
url = "{http.url}/alerts"

[[alerts.channels]]
name = "mail"
kind = "email"
host = "127.0.0.1"
port = {smtp.port}
from = "energymon@home.test"
to = ["me@home.test"]
quiet_hours = {{ start = "00:00", end = "23:59", timezone = "Europe/Berlin" }}
""")
    ok = run_energymon("alerts", "test", "hook", "--config", config, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == f"delivered via hook (webhook {http.url}/alerts)"
    (got,) = http.requests
    body = orjson.loads(got.body)
    assert (body["state"], body["rule"]) == ("test", "energymon-test")

    mail = run_energymon("alerts", "test", "mail", "-c", config, cwd=tmp_path)  # a test ignores quiet hours
    assert mail.returncode == 0, mail.stderr
    assert smtp.messages[0][2]["Subject"] == "energymon: energymon-test test on energymon"

    http.statuses = [503]
    down = run_energymon("alerts", "test", "hook", "--config", config, cwd=tmp_path)
    assert down.returncode == 1 and down.stdout == ""
    assert down.stderr.strip() == (f"not delivered via hook (webhook {http.url}/alerts): {http.url}/alerts answered "
                                   "HTTP 503 Service Unavailable: broken today")

    unknown = run_energymon("alerts", "test", "pager", "--config", config, cwd=tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr.strip() == f"error: no channel named 'pager' in {config}; configured channels: hook, mail"


def test_alerts_test_refuses_a_bad_channel_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "energymon.toml"
    config.write_text('[[alerts.channels]]\nname = "hook"\nkind = "webhook"\nurl = "127.0.0.1:9000/alerts"\n')
    bad = run_energymon("alerts", "test", "hook", "--config", config, cwd=tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == (f"error: config file {config}: alerts.channels[0].url: '127.0.0.1:9000/alerts' "
                                  "must start with http:// or https://")


def _closed_port() -> int:
    from energymon.adapters.mqtt.broker import free_port

    return free_port()  # nothing listens there: it was just released


def test_alerts_test_through_ntfy_and_mqtt(tmp_path: Path, http: HttpReceiver, mosquitto: Any) -> None:
    broker = mosquitto.start()
    config = tmp_path / "energymon.toml"
    config.write_text(f"""
[[alerts.channels]]
name = "phone"
kind = "ntfy"
server = "{http.url}"
topic = "energy-home"
priority = 4

[[alerts.channels]]
name = "ha"
kind = "mqtt"
broker = "{broker.url}"
""")
    phone = run_energymon("alerts", "test", "phone", "--config", config, cwd=tmp_path)
    assert phone.returncode == 0, phone.stderr
    assert phone.stdout.strip() == f"delivered via phone (ntfy {http.url}/energy-home)"
    (got,) = http.requests
    assert (got.path, got.headers["Priority"], got.headers["Tags"]) == ("/energy-home", "4", "test_tube")
    assert "channel 'phone' works" in got.body.decode()

    ha = run_energymon("alerts", "test", "ha", "--config", config, cwd=tmp_path)
    assert ha.returncode == 0, ha.stderr
    assert ha.stdout.strip() == f"delivered via ha (mqtt {broker.url} energymon/alerts/<rule>/<device>)"
    mosquitto.stop()
    down = run_energymon("alerts", "test", "ha", "--config", config, cwd=tmp_path)
    assert down.returncode == 1 and "Traceback" not in down.stderr
    assert down.stderr.startswith(f"not delivered via ha (mqtt {broker.url} energymon/alerts/<rule>/<device>): "
                                  f"MQTT broker {broker.url} unreachable: ")
    assert len(down.stderr.strip().splitlines()) == 1

    missing = run_energymon("alerts", "test", "ha", "--config", tmp_path / "nope.toml", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: config file {tmp_path / 'nope.toml'} does not exist"
