"""Alerts as email over SMTP: one message per story (or per topic digest) per channel, with a
plain-text part and an HTML part that renders in common mail clients."""

from __future__ import annotations

import base64
import html
import logging
import os
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from syndicator.alert.secret import read_secret_file
from syndicator.config import EmailAlert
from syndicator.errors import DeliveryError
from syndicator.model import Notice, PendingAlert, StoredEntry
from syndicator.redact import one_line, redact_text, remember_secrets, shown, text_block

log = logging.getLogger(__name__)

EXCERPT = 600
_STYLE = "font-family:sans-serif;max-width:40em;line-height:1.4"


class EmailSender:
    def __init__(self, channel: EmailAlert) -> None:
        self.name = channel.name
        self.retry = channel.retry
        self.digest = channel.digest
        self._channel = channel

    def send(self, alert: PendingAlert) -> None:
        self._deliver(compose(alert, self._channel))

    def send_digest(self, topic: str, alerts: Sequence[PendingAlert]) -> None:
        self._deliver(compose_digest(topic, alerts, self._channel))

    def send_notice(self, notice: Notice) -> None:
        message = _message(self._channel, f"[syndicator] {notice.subject}")
        message.set_content(text_block(redact_text(notice.body)) + "\n")
        self._deliver(message)

    def _deliver(self, message: EmailMessage) -> None:
        c = self._channel
        try:
            if c.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    c.host, c.port, timeout=c.timeout, context=self._tls()
                )
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            with smtp:
                if c.security == "starttls":
                    smtp.starttls(context=self._tls())
                if c.username:
                    _login(smtp, c.username, self._password())
                smtp.send_message(message)
        except (OSError, smtplib.SMTPException, UnicodeError) as exc:
            raise DeliveryError(f"SMTP {c.host}:{c.port}: {_reason(exc)}") from None

    def _tls(self) -> ssl.SSLContext:
        """Certificates are always verified; `ca_file` adds a private CA to the system's."""
        context = ssl.create_default_context()
        if self._channel.ca_file is not None:
            context.load_verify_locations(cafile=str(self._channel.ca_file))
        return context

    def _password(self) -> str:
        c = self._channel
        if c.password_file is not None:
            password = read_secret_file(c.password_file, "password_file")
        else:
            found = os.environ.get(c.password_env)
            if found is None:
                raise DeliveryError(f"username set but no password in ${c.password_env}")
            password = found
        remember_secrets(password)  # masked in any log line, whoever writes it
        return password


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """smtplib's login() encodes credentials as ASCII (a UnicodeEncodeError that quotes a
    character of the password otherwise); AUTH PLAIN (RFC 4616) and LOGIN carry UTF-8, so a
    non-ASCII user name or password goes that way. ASCII ones keep smtplib's choice, which
    prefers CRAM-MD5 (no password on the wire)."""
    if user.isascii() and password.isascii():
        smtp.login(user, password)
        return
    smtp.ehlo_or_helo_if_needed()
    if not smtp.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    offered = smtp.esmtp_features["auth"].upper().split()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    if "PLAIN" in offered:
        token = b64(b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8"))
        code, response = smtp.docmd("AUTH", f"PLAIN {token}")
        if code == 334:  # a server that wants the credentials after an empty challenge
            code, response = smtp.docmd(token)
    elif "LOGIN" in offered:
        code, response = smtp.docmd("AUTH", "LOGIN")
        for value in (user, password):
            if code == 334:
                code, response = smtp.docmd(b64(value.encode("utf-8")))
    else:
        raise smtplib.SMTPException(
            f"the server offers AUTH {' '.join(offered)}; a non-ASCII user name or password "
            "needs PLAIN or LOGIN"
        )
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, response)


def _message(channel: EmailAlert, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = shown(subject)
    message["From"] = channel.sender
    message["To"] = ", ".join(channel.to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="syndicator.local")
    return message


def _title(entry: StoredEntry) -> str:
    return one_line(" ".join(entry.title.split())) or "(untitled)"


def _excerpt(entry: StoredEntry) -> str:
    text = text_block(entry.text)
    return text[:EXCERPT].rstrip() + ("…" if len(text) > EXCERPT else "")


def _story_text(entry: StoredEntry, topics: str) -> str:
    return (
        f"{_title(entry)}\n{one_line(entry.link)}\n\nSource: {one_line(entry.source)}\n"
        f"Topics: {topics}\n\n{_excerpt(entry)}\n"
    )


def _story_html(entry: StoredEntry, topics: str) -> str:
    def e(text: str) -> str:
        return html.escape(one_line(text))

    title = e(_title(entry))
    head = f'<a href="{e(entry.link)}">{title}</a>' if entry.link else title
    return (
        f'<h2 style="font-size:1.15em;margin:1.2em 0 .2em">{head}</h2>'
        f'<p style="color:#555;margin:0">Source: {e(entry.source)} · Topics: {e(topics)}</p>'
        f"<p>{html.escape(_excerpt(entry))}</p>"
    )


def compose(alert: PendingAlert, channel: EmailAlert) -> EmailMessage:
    topics = ", ".join(alert.topics)
    message = _message(channel, f"[{topics}] {_title(alert.entry)}")
    message["X-Syndicator-Entry"] = alert.entry.uid
    message.set_content(_story_text(alert.entry, topics))
    message.add_alternative(
        f'<!doctype html><html><body style="{_STYLE}">{_story_html(alert.entry, topics)}'
        "</body></html>",
        subtype="html",
    )
    return message


def compose_digest(topic: str, alerts: Sequence[PendingAlert], channel: EmailAlert) -> EmailMessage:
    count = len(alerts)
    message = _message(channel, f"[{topic}] {count} new stor{'y' if count == 1 else 'ies'}")
    for alert in alerts:
        message["X-Syndicator-Entry"] = alert.entry.uid
    parts = [_story_text(a.entry, ", ".join(a.topics)) for a in alerts]
    message.set_content(("\n" + "-" * 60 + "\n\n").join(parts))
    stories = "".join(_story_html(a.entry, ", ".join(a.topics)) for a in alerts)
    message.add_alternative(
        f'<!doctype html><html><body style="{_STYLE}">{stories}</body></html>', subtype="html"
    )
    return message


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
        return shown(f"{exc.smtp_code} {text}")
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, UnicodeError):  # its text quotes the character: maybe the password's
        return f"{type(exc).__name__} (a value is not in the encoding the server needs)"
    return shown(f"{type(exc).__name__}: {exc}")
