"""Webhook (the body as a JSON POST) and ntfy (a POST to ``<server>/<topic>`` with Title/Priority/Tags headers).

Plain ``urllib``: httpx is only a test dependency, and two POSTs do not justify a runtime one (the Lambda package
stays small).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from email.header import Header
from typing import TYPE_CHECKING, Any

import orjson

from energymon.adapters.notify.base import Channel, DeliveryError, summary, title

if TYPE_CHECKING:
    from energymon.adapters.notify.config import NtfyChannelSettings, WebhookChannelSettings

__all__ = ["NtfyChannel", "WebhookChannel", "post"]

_USER_AGENT = "energymon-alerts/1"


def post(url: str, data: bytes, headers: dict[str, str], timeout_s: float) -> None:
    """POST and require a 2xx answer; anything else is a one-line :class:`DeliveryError`."""
    request = urllib.request.Request(url, data=data, method="POST",  # noqa: S310 - http(s) checked by the config
                                     headers={"User-Agent": _USER_AGENT, **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(200).decode("utf-8", "replace").strip().splitlines()
        raise DeliveryError(f"{url} answered HTTP {exc.code} {exc.reason}"
                            + (f": {detail[0]}" if detail else "")) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"could not reach {url}: {exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise DeliveryError(f"could not reach {url}: {exc or type(exc).__name__}") from None


class WebhookChannel(Channel):
    kind = "webhook"

    def __init__(self, settings: WebhookChannelSettings) -> None:
        super().__init__(settings.name, settings.quiet_hours)
        self.settings = settings

    def send(self, body: dict[str, Any]) -> None:
        headers = {"Content-Type": "application/json", **self.settings.headers}
        if "key" in body:  # lets a receiver drop the at-most-one duplicate a crash can cause
            headers.setdefault("Idempotency-Key", str(body["key"]))
        post(self.settings.url, orjson.dumps(body), headers, self.settings.timeout_s)

    def target(self) -> str:
        return self.settings.url


class NtfyChannel(Channel):
    kind = "ntfy"

    def __init__(self, settings: NtfyChannelSettings) -> None:
        super().__init__(settings.name, settings.quiet_hours)
        self.settings = settings

    @property
    def url(self) -> str:
        return f"{self.settings.server.rstrip('/')}/{self.settings.topic}"

    def send(self, body: dict[str, Any]) -> None:
        state = str(body.get("state", ""))
        tags = [*self.settings.tags, {"firing": "warning", "resolved": "white_check_mark",
                                      "flapping": "repeat", "test": "test_tube"}.get(state, state)]
        headers = {
            "Title": _header(title(body)),
            "Priority": str(self.settings.priority),
            "Tags": ",".join(t for t in tags if t),
            "Content-Type": "text/plain; charset=utf-8",
        }
        if self.settings.token is not None:
            headers["Authorization"] = f"Bearer {self.settings.token.get_secret_value()}"
        post(self.url, summary(body).encode(), headers, self.settings.timeout_s)

    def target(self) -> str:
        return self.url


def _header(text: str) -> str:
    """HTTP headers are Latin-1: a non-ASCII title (a device named 'Küche') goes RFC 2047-encoded, which ntfy
    decodes."""
    return text if text.isascii() else Header(text, "utf-8").encode()
