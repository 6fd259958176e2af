"""redact.py: URLs shown without their secrets, text shown without control codes."""

from __future__ import annotations

import logging
import string
import sys
from urllib.parse import quote

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from syndicator.redact import (
    SafeFormatter,
    is_secret_name,
    one_line,
    origin_only,
    public_url,
    redact_text,
    redact_url,
    remember_secrets,
    text_block,
    url_secrets,
)


@pytest.mark.parametrize(
    ("url", "shown", "public"),
    [
        (
            "https://user:pass@host/feed?apikey=S3CR3T&a=1",
            "https://***@host/feed?apikey=***&a=1",
            "https://host/feed?a=1",
        ),
        ("https://TOKEN@host/feed", "https://***@host/feed", "https://host/feed"),
        ("HTTP://u:p@Host:8080/x", "HTTP://***@Host:8080/x", "HTTP://Host:8080/x"),
        ("https://h/f?Api-Key=1&token=2", "https://h/f?Api-Key=***&token=***", "https://h/f"),
        ("https://h/f?a=1;sig=xyz", "https://h/f?a=1;sig=***", "https://h/f?a=1"),
        ("https://h/f?x_api_key=k&ok=1", "https://h/f?x_api_key=***&ok=1", "https://h/f?ok=1"),
        ("https://h/cb#access_token=abc", "https://h/cb#access_token=***", "https://h/cb"),
        ("https://h/f;jsessionid=AB12?q=1", "https://h/f;jsessionid=***?q=1", "https://h/f?q=1"),
        # A password with a raw "?" or "#" (an invalid URL, but one a user may write).
        ("https://u:p?ss@host/f", "https://***@host/f", "https://host/f"),
        ("https://u:p#ss@host/f", "https://***@host/f", "https://host/f"),
        # An "@" that is not userinfo is left alone.
        ("https://host:8080?mail=a@b.org", "https://host:8080?mail=a@b.org", None),
        ("https://h/p/a@b?x=1", "https://h/p/a@b?x=1", None),
        ("https://[::1]:80/f?k=v", "https://[::1]:80/f?k=v", None),
        ("/var/lib/feeds/local.xml", "/var/lib/feeds/local.xml", None),
        ("https://h/f?q=nato&page=2", "https://h/f?q=nato&page=2", None),
    ],
)
def test_redact_url_and_public_url(url: str, shown: str, public: str | None) -> None:
    assert redact_url(url) == shown
    assert public_url(url) == (public if public is not None else url)
    assert redact_url(shown) == shown


def test_secret_names_ignore_case_and_separators() -> None:
    for name in ("apikey", "API_KEY", "api-key", "Token", "access_token", "client_secret"):
        assert is_secret_name(name), name
    for name in ("q", "page", "id", "utm_source", "lang", "format"):
        assert not is_secret_name(name), name


# -- properties ------------------------------------------------------------------------------

_UNRESERVED = string.ascii_letters + string.digits + "-._~"
_SECRET_PARAMS = ["apikey", "token", "key", "password", "secret", "access_token", "sig"]
_OTHER_PARAMS = ["q", "page", "lang", "id", "a", "format"]


def _spelled(name: str, style: str) -> str:
    return {"lower": name, "upper": name.upper(), "dash": name.replace("_", "-")}[style]


@st.composite
def url_with_secrets(draw: st.DrawFn) -> list[object]:
    """The parts of a URL; `build` puts a secret in its userinfo and secret-named parameters."""
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    host = draw(st.sampled_from(["example.org", "127.0.0.1:8080", "[::1]", "news.example"]))
    path = draw(st.lists(st.text(_UNRESERVED, min_size=1, max_size=8), max_size=3))
    secret_name = st.builds(
        _spelled, st.sampled_from(_SECRET_PARAMS), st.sampled_from(["lower", "upper", "dash"])
    )
    names = draw(st.lists(st.one_of(secret_name, st.sampled_from(_OTHER_PARAMS)), max_size=4))
    values = draw(st.lists(st.text(_UNRESERVED, max_size=6), min_size=len(names)))
    fragment = draw(st.sampled_from(["", "#top", "#access_token="]))
    userinfo = draw(st.sampled_from(["none", "user", "user:password"]))
    return [scheme, host, path, names, values, fragment, userinfo]


def build(parts: list[object], secret: str) -> str:
    scheme, host, path, names, values, fragment, userinfo = parts
    assert isinstance(path, list) and isinstance(names, list) and isinstance(values, list)
    encoded = quote(secret, safe="")
    auth = {"none": "", "user": f"{encoded}@", "user:password": f"me:{encoded}@"}[str(userinfo)]
    query = "&".join(
        f"{n}={encoded if is_secret_name(n) else v}" for n, v in zip(names, values, strict=False)
    )
    url = f"{scheme}://{auth}{host}/{'/'.join(path)}" + (f"?{query}" if query else "")
    return url + (f"{fragment}{encoded}" if fragment == "#access_token=" else str(fragment))


@given(url_with_secrets(), st.text(min_size=1), st.text(min_size=1))
def test_what_is_shown_does_not_depend_on_the_secret(
    parts: list[object], one: str, other: str
) -> None:
    """Whatever the password or key is, redact_url and public_url show the same URL: nothing
    of the secret gets through, not even its length."""
    first, second = build(parts, one), build(parts, other)
    assert redact_url(first) == redact_url(second)
    assert public_url(first) == public_url(second)
    assert redact_url(redact_url(first)) == redact_url(first)


_URLISH = st.text(alphabet="ab:@/?#&=;%[].1" + "\x1b\n ", max_size=30)


@given(_URLISH)
@example("u:p@h/x")
@example("u:p?x=1@h/")
@example("u@p@h")
def test_httpx_sees_no_credentials_in_a_redacted_url(rest: str) -> None:
    """The fetcher's own parser (httpx) finds no userinfo but the mask in what is shown."""
    try:
        url = httpx.URL(redact_url("https://" + rest))
    except (httpx.InvalidURL, ValueError):
        return
    assert url.userinfo in (b"", b"***")


@given(st.text())
@example("https://a:b@c/?token=x#sig=y")
def test_redact_url_never_raises_and_is_idempotent(text: str) -> None:
    once = redact_url(text)
    assert redact_url(once) == once
    assert public_url(public_url(text)) == public_url(text)
    assert redact_text(redact_text(text)) == redact_text(text)


def test_redact_text_finds_urls_in_free_text() -> None:
    reason = "redirect loop: https://u:pw@h/a?token=T0K redirects back to https://u:pw@h/b"
    assert redact_text(reason) == (
        "redirect loop: https://***@h/a?token=*** redirects back to https://***@h/b"
    )


def test_url_secrets_and_remembered_ones_are_masked_anywhere() -> None:
    assert url_secrets("https://me:Hunter2Long@h/f?apikey=K3yK3yK3y") == [
        "me:Hunter2Long",
        "Hunter2Long",
        "K3yK3yK3y",
    ]
    remember_secrets("Sm7pPässw0rd")
    assert redact_text("login failed for Sm7pPässw0rd at host") == "login failed for *** at host"


# -- control characters ----------------------------------------------------------------------

HOSTILE = "A\x1b[2J\x1b]0;pwned\x07B\x9b31mC\rD\nE\tF\x00G\x7fH\u2028I"


def test_one_line_escapes_every_control_code() -> None:
    assert one_line(HOSTILE) == "A\\x1b[2J\\x1b]0;pwned\\x07B\\x9b31mC D E F\\x00G\\x7fH I"


def test_text_block_keeps_lines_and_tabs_only() -> None:
    assert text_block(HOSTILE) == "A\\x1b[2J\\x1b]0;pwned\\x07B\\x9b31mC\nD\nE\tF\\x00G\\x7fH I"
    assert text_block("a\r\nb") == "a\nb"


def _controls(text: str, allowed: str = "") -> list[str]:
    return [c for c in text if (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0) and c not in allowed]


@given(st.text())
def test_no_control_code_survives(text: str) -> None:
    assert _controls(one_line(text)) == []
    assert "\u2028" not in one_line(text) and "\u2029" not in one_line(text)
    assert _controls(text_block(text), "\n\t") == []
    assert one_line(one_line(text)) == one_line(text)


def test_log_formatter_redacts_and_keeps_one_line_per_message() -> None:
    formatter = SafeFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord(
        "httpx",
        logging.DEBUG,
        __file__,
        1,
        'HTTP Request: GET %s "%s"',
        ("https://user:pw99@h/f?apikey=K1", "HTTP/1.1 200 OK\x1b[2J\nFORGED line"),
        None,
    )
    assert formatter.format(record) == (
        'DEBUG HTTP Request: GET https://***@h/f?apikey=*** "HTTP/1.1 200 OK\\x1b[2J FORGED line"'
    )
    try:
        raise ValueError("bad https://user:pw99@h/f \x07")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    text = formatter.format(record)
    assert "pw99" not in text and "\x07" not in text
    assert text.count("\n") >= 2  # the traceback keeps its lines


def test_the_readme_lists_every_secret_name() -> None:
    from syndicator.redact import SECRET_NAMES, SECRET_SUFFIXES
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Secrets and what is shown")[1].split("\n## ")[0]
    for name in (*SECRET_NAMES, *SECRET_SUFFIXES):
        assert f"`{name}`" in section, name


@given(url_with_secrets())
def test_a_url_without_secrets_is_left_alone(parts: list[object]) -> None:
    """Feeds without credentials resolve their links exactly as before."""
    scheme, host, path, names, values, _, _ = parts
    assert isinstance(path, list) and isinstance(names, list) and isinstance(values, list)
    plain = [(n, v) for n, v in zip(names, values, strict=False) if not is_secret_name(str(n))]
    query = "&".join(f"{n}={v}" for n, v in plain)
    url = f"{scheme}://{host}/{'/'.join(path)}" + (f"?{query}" if query else "") + "#top"
    assert redact_url(url) == public_url(url) == url


# -- a webhook's URL: only its origin is shown -----------------------------------------------------


def test_webhook_urls_are_shown_without_path_or_query() -> None:
    assert origin_only("https://hooks.example/services/T0/B0/XYZ?token=1") == (
        "https://hooks.example/***"
    )
    assert origin_only("http://[::1]:8080/") == "http://[::1]:8080/"
    assert origin_only("http://user:pw@h:1/x") == "http://h:1/***"


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text(alphabet=st.characters(categories=["L", "N"]), min_size=8))
def test_a_shown_webhook_url_never_holds_its_path(text: str, token: str) -> None:
    origin_only(text)  # never raises, whatever the text
    for url in (f"https://h.example/{token}", f"http://h:8080/x?{token}=1", f"https://h/#{token}"):
        assert token not in origin_only(url)
