"""Alerts as email over SMTP: one message per story per channel, text and HTML alternatives."""

from __future__ import annotations

import html
import logging
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from syndicator.config import EmailAlert
from syndicator.errors import DeliveryError
from syndicator.model import Alert

log = logging.getLogger(__name__)

EXCERPT = 600


class EmailSender:
    def __init__(self, channel: EmailAlert) -> None:
        self.name = channel.name
        self._channel = channel

    def send(self, alert: Alert) -> None:
        message = compose(alert, self._channel)
        c = self._channel
        try:
            if c.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    c.host, c.port, timeout=c.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            with smtp:
                if c.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if c.username:
                    smtp.login(c.username, self._password())
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP {c.host}:{c.port}: {_reason(exc)}") from exc

    def _password(self) -> str:
        c = self._channel
        if c.password_file is not None:
            try:
                return c.password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise DeliveryError(f"cannot read password_file: {exc.strerror}") from exc
        password = os.environ.get(c.password_env)
        if password is None:
            raise DeliveryError(f"username set but no password in ${c.password_env}")
        return password


def compose(alert: Alert, channel: EmailAlert) -> EmailMessage:
    entry = alert.entry
    topics = ", ".join(alert.topics)
    title = " ".join(entry.title.split()) or "(untitled)"
    excerpt = entry.text[:EXCERPT].rstrip() + ("…" if len(entry.text) > EXCERPT else "")
    message = EmailMessage()
    message["Subject"] = f"[{topics}] {title}"
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="syndicator.local")
    message["X-Syndicator-Entry"] = entry.uid
    message.set_content(
        f"{title}\n{entry.link}\n\nSource: {entry.source}\nTopics: {topics}\n\n{excerpt}\n"
    )
    e = html.escape
    link = f'<a href="{e(entry.link)}">{e(title)}</a>' if entry.link else e(title)
    message.add_alternative(
        '<!doctype html><html><body style="font-family:sans-serif;max-width:40em">'
        f'<h2 style="font-size:1.2em">{link}</h2>'
        f'<p style="color:#555">Source: {e(entry.source)} · Topics: {e(topics)}</p>'
        f"<p>{e(excerpt)}</p></body></html>",
        subtype="html",
    )
    return message


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode("utf-8", "replace")
            if isinstance(exc.smtp_error, bytes)
            else str(exc.smtp_error)
        )
        return f"{exc.smtp_code} {text}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return f"{type(exc).__name__}: {exc}"
