"""Local alerts: a log line, and a POST to a webhook when one is configured."""

from __future__ import annotations

import logging
import urllib.request

import orjson

from energymon.ports import Notifier

__all__ = ["LogNotifier"]

log = logging.getLogger("energymon.alerts")


class LogNotifier(Notifier):
    def __init__(self, webhook_url: str | None = None, timeout_s: float = 5.0) -> None:
        if webhook_url and not webhook_url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must start with http:// or https://, got {webhook_url!r}")
        self.webhook_url = webhook_url
        self.timeout_s = timeout_s

    def notify(self, subject: str, message: str) -> None:
        log.warning("ALERT %s: %s", subject, message)
        if not self.webhook_url:
            return
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.webhook_url,
            data=orjson.dumps({"subject": subject, "message": message}),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s):  # noqa: S310
                pass
        except OSError as exc:  # an alert channel being down must not stop processing
            log.error("alert webhook %s failed: %s", self.webhook_url, exc)
