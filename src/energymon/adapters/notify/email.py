"""E-mail over SMTP with the standard library: TLS from the start (``ssl``) or upgraded (``starttls``)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any

import orjson

from energymon.adapters.notify.base import Channel, DeliveryError, summary, title

if TYPE_CHECKING:
    from energymon.adapters.notify.config import EmailChannelSettings

__all__ = ["EmailChannel", "email_message"]


def email_message(body: dict[str, Any], sender: str, recipients: list[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = title(body)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain="energymon")
    if "key" in body:  # mail filters and threads can group one incident's firing and resolving
        message["X-Energymon-Key"] = str(body["key"])
    message.set_content(summary(body) + "\n\n" + orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
    return message


class EmailChannel(Channel):
    kind = "email"

    def __init__(self, settings: EmailChannelSettings, tls_context: ssl.SSLContext | None = None) -> None:
        super().__init__(settings.name, settings.quiet_hours)
        self.settings = settings
        self.tls_context = tls_context  # default: made per send, so a missing ca_file is a failed send, not a crash

    def send(self, body: dict[str, Any]) -> None:
        s = self.settings
        message = email_message(body, s.from_, s.to)
        try:
            context = self.tls_context or ssl.create_default_context(cafile=s.ca_file)
            smtp: smtplib.SMTP
            if s.ssl:
                smtp = smtplib.SMTP_SSL(s.host, s.smtp_port, timeout=s.timeout_s, context=context)
            else:
                smtp = smtplib.SMTP(s.host, s.smtp_port, timeout=s.timeout_s)
            with smtp:
                if s.starttls:
                    smtp.starttls(context=context)
                if s.username is not None and s.password is not None:
                    smtp.login(s.username, s.password.get_secret_value())
                # Some recipients refused but others took it: counts as sent (a retry would duplicate theirs).
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"SMTP {self.target()} refused every recipient: {_codes(exc.recipients)}") from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
            raise DeliveryError(f"SMTP {self.target()} refused the message: {exc.smtp_code} {text}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {self.target()} failed: {exc or type(exc).__name__}") from None

    def target(self) -> str:
        return f"{self.settings.host}:{self.settings.smtp_port}"


def _codes(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(f"{to} {code} {text.decode('utf-8', 'replace')}" for to, (code, text) in recipients.items())
