"""What may leave the process for a person to read: URLs without their secrets, and text
without control codes.

Echoing what sources and the config hold does two kinds of harm. A source URL may carry
credentials (`https://user:pass@host/feed`, `?apikey=…`) that must never reach a published
feed, the status page (served without login), an alert, a log line or a terminal; only the
fetch itself uses a source's full URL. And text from a feed or a server (titles, error
reasons, advertised URLs) may carry terminal control sequences that clear, recolour or
retitle the operator's terminal, or forge a log line. Every output edge passes what it shows
through these functions; they are pure, so each edge is tested with the same hostile input.

Parameters "named like secrets" (case, `-` and `.` do not matter): exactly one of SECRET_NAMES,
or a name ending in one of SECRET_SUFFIXES (`x_api_key`, `feedtoken`, `client_secret`). A
secret inside a path segment (`/feed/<token>/rss`) cannot be told from a path and is not hidden.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit

MASK = "***"

SECRET_NAMES = frozenset(
    {
        "access_token",
        "apikey",
        "auth",
        "credential",
        "credentials",
        "hash",
        "jwt",
        "key",
        "otp",
        "pass",
        "passwd",
        "password",
        "pw",
        "pwd",
        "secret",
        "session",
        "sessionid",
        "sid",
        "sig",
        "signature",
        "token",
    }
)
SECRET_SUFFIXES = (
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "signature",
    "_sig",
    "_auth",
    "credential",
    "credentials",
    "sessionid",
)

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://\S+")
# ;name=value inside a path segment (`/feed;jsessionid=…`).
_HOST_PORT = re.compile(r"^(\[[^\]]*\]|[^:\[\]]*)(:\d*)?$")
_PATH_PARAM = re.compile(r";([^;/=?#]*)=([^;/?#]*)")


def is_secret_name(name: str) -> bool:
    """Is a query parameter of this name (percent-encoded or not) a credential?"""
    key = unquote_plus(name).strip().lower().replace("-", "_").replace(".", "_")
    return key in SECRET_NAMES or key.endswith(SECRET_SUFFIXES)


def redact_url(url: str) -> str:
    """The URL as it may be shown: userinfo as `***@`, secret-named parameters as `name=***`.

    Never raises, whatever the text; redact_url(redact_url(u)) == redact_url(u).
    """
    return _rewrite(url, drop=False)


def public_url(url: str) -> str:
    """The URL without its userinfo and without secret-named parameters: what a reader may see
    and follow, and the base a feed's relative links resolve against (a reference such as ""
    or "#x" keeps its base's query, so the base must hold no secret)."""
    return _rewrite(url, drop=True)


def origin_only(url: str) -> str:
    """Scheme, host and port, the rest as `/***`: a webhook URL as it may be shown. Its path
    and query are often the credential itself (chat services' incoming-webhook URLs), which
    no rule could tell from a path. Never raises."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # a port that is not a number
        return MASK
    host = f"[{host}]" if ":" in host else host
    rest = "/***" if parts.path.strip("/") or parts.query or parts.fragment else "/"
    return f"{parts.scheme}://{host}{port}{rest}" if parts.scheme and host else MASK


def _rewrite(url: str, drop: bool) -> str:
    head, rest = _split_authority(url)
    if head is not None:
        at = _userinfo_end(rest)
        if at >= 0:
            rest = ("" if drop else MASK + "@") + rest[at + 1 :]
    path_end = _first(rest, "?#")
    path, tail = rest[:path_end], rest[path_end:]
    if ";" in path:
        path = _PATH_PARAM.sub(lambda m: _path_param(m, drop), path)
    query = fragment = None
    if tail.startswith("?"):
        hash_at = tail.find("#")
        query = tail[1:] if hash_at < 0 else tail[1:hash_at]
        fragment = None if hash_at < 0 else tail[hash_at + 1 :]
    elif tail.startswith("#"):
        fragment = tail[1:]
    out = (head or "") + path
    if query is not None:
        query = _params(query, drop)
        out += f"?{query}" if query or not drop else ""
    if fragment is not None:
        fragment = _params(fragment, drop)
        out += f"#{fragment}" if fragment or not drop else ""
    return out


def _split_authority(url: str) -> tuple[str | None, str]:
    """("scheme://", the rest) for a URL with an authority, else (None, url)."""
    m = _SCHEME.match(url)
    start = m.end() if m else 0
    if url.startswith("//", start):
        return url[: start + 2], url[start + 2 :]
    return None, url


def _userinfo_end(rest: str) -> int:
    """The index of the `@` ending the userinfo, or -1. The authority ends at the first `/`,
    `?` or `#`; a password with a raw `?` or `#` (an invalid URL a user may still write) is
    recognised by a `:` before an `@` that comes before the first `/`."""
    end = _first(rest, "/?#")
    at = rest.rfind("@", 0, end)
    if at >= 0:
        return at
    if _HOST_PORT.match(rest[:end]):  # a valid authority: the `@` is in the query
        return -1
    slash = _first(rest, "/")
    at = rest.rfind("@", 0, slash)
    return at if at >= 0 and ":" in rest[:at] else -1


def _first(text: str, chars: str) -> int:
    found = [i for i in (text.find(c) for c in chars) if i >= 0]
    return min(found) if found else len(text)


def _params(text: str, drop: bool) -> str:
    """`a=1&apikey=s&b=2` → `a=1&apikey=***&b=2` (or, dropping, `a=1&b=2`); `&` and `;`
    both separate."""
    if "=" not in text:
        return text
    pieces = re.split(r"([&;])", text)
    out: list[str] = []
    for i in range(0, len(pieces), 2):
        piece = pieces[i]
        name, eq, value = piece.partition("=")
        if eq and is_secret_name(name):
            if drop:
                continue
            piece = f"{name}={MASK}" if value else piece
        if out:
            out.append(pieces[i - 1])
        out.append(piece)
    return "".join(out)


def _path_param(m: re.Match[str], drop: bool) -> str:
    if not is_secret_name(m.group(1)):
        return m.group(0)
    return "" if drop else f";{m.group(1)}={MASK}" if m.group(2) else m.group(0)


def redact_text(text: str) -> str:
    """Free text (an error reason, a log line) with every URL in it redacted, and every
    secret the process was told about (`remember_secrets`) masked wherever it appears."""
    if "://" in text:
        text = _IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    with _lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


# -- secrets the process knows: masked in any text, as a safety net for log lines -------------

_known: set[str] = set()
_lock = threading.Lock()
_MIN_SECRET = 6  # shorter values would mask ordinary words in log lines


def remember_secrets(*values: str) -> None:
    """Mask these values (and their percent-decoded forms) in every redact_text from now on:
    an SMTP password, or what a source URL carries, shown by a library that logged it."""
    with _lock:
        for value in values:
            for form in (value, unquote(value)):
                if len(form) >= _MIN_SECRET and form != MASK:
                    _known.add(form)


def url_secrets(url: str) -> list[str]:
    """The secret values a URL carries: its userinfo (whole, and the password alone) and the
    values of its secret-named parameters."""
    found: list[str] = []
    head, rest = _split_authority(url)
    if head is not None:
        at = _userinfo_end(rest)
        if at >= 0:
            userinfo = rest[:at]
            found += [userinfo, userinfo.partition(":")[2]]
    for m in re.finditer(r"([^?#&;/=]*)=([^&;#?]*)", url):
        if is_secret_name(m.group(1)):
            found.append(m.group(2))
    return [f for f in found if f]


# -- control characters ----------------------------------------------------------------------

_LINE_BREAKS = "\t\n\v\f\r\x1c\x1d\x1e\x85\u2028\u2029"
_CONTROLS = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_ONE_LINE = {c: " " if chr(c) in _LINE_BREAKS else f"\\x{c:02x}" for c in _CONTROLS}
_ONE_LINE[0x2028] = _ONE_LINE[0x2029] = " "
_BLOCK = {**_ONE_LINE, ord("\n"): "\n", ord("\t"): "\t"}


def one_line(text: str) -> str:
    """Text for a one-line field (a log line, a table cell, a mail subject, a console alert):
    line breaks and tabs become spaces, every other C0/C1 control (ESC, BEL, CSI \\x9b, DEL)
    is shown escaped (`\\x1b`), so no terminal interprets it and no line can be forged."""
    return text.translate(_ONE_LINE)


def text_block(text: str) -> str:
    """Multi-line text (a mail body, a traceback, a command's output): newlines and tabs stay,
    a CR ends a line (it could otherwise overwrite one on a terminal), other controls are
    escaped as in one_line."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.translate(_BLOCK)


def shown(text: str) -> str:
    """One line, URLs redacted: what every one-line field shows of text from anywhere."""
    return one_line(redact_text(text))


class SafeFormatter(logging.Formatter):
    """The log's safety net: every message is one line with its URLs redacted and its control
    characters escaped, whoever logged it (httpx logs each request's full URL at DEBUG);
    tracebacks keep their lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = shown(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        return text_block(redact_text(super().formatException(ei)))

    def formatStack(self, stack_info: str) -> str:
        return text_block(redact_text(super().formatStack(stack_info)))
