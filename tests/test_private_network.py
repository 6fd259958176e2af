"""The daemon is no proxy into the network it runs in: a redirect, or a name that resolves, into
loopback, private, link-local, multicast, reserved or unspecified addresses is refused at
connect time, unless the user named that host and port (a source URL or `[fetch]
allow_private`). On loopback: server A is the "public" source the user named; server B, on a
port the config never names, stands for the internal service."""

from __future__ import annotations

import asyncio
import ipaddress
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syndicator.errors import FetchError
from syndicator.fetch import (
    Limits,
    address_kind,
    endpoint,
    fetch,
    make_client,
    named_endpoints,
    parse_host_port,
)
from syndicator.model import Fetched, Validators
from tests.conftest import REAL, FeedServer, Route, run_cli, write_config

LIMITS = Limits(timeout=5, connect_timeout=2)
SECRET = "INTERNAL-ONLY-STORY"
PHRASE = "Internal-Secret-Phrase"


@pytest.fixture
def internal() -> Iterator[FeedServer]:
    """The internal service: a feed with a secret story, and an error page with a telling
    reason phrase."""
    server = FeedServer()
    story = (
        f"<rss version='2.0'><channel><title>internal</title><item><title>{SECRET}</title>"
        f"<link>http://intranet.example/1</link><description>{SECRET} text</description>"
        "</item></channel></rss>"
    )
    server.routes["/internal"] = Route(story.encode())
    server.routes["/error"] = Route(b"no", status=500, reason=PHRASE)
    yield server
    server.close()


def get(url: str, allow: frozenset[tuple[str, int]]) -> Fetched:
    async def go() -> Fetched:
        async with make_client(LIMITS, allow=allow) as client:
            return await fetch(client, url, Validators(), LIMITS)

    return asyncio.run(go())


def refusal(url: str, allow: frozenset[tuple[str, int]]) -> str:
    with pytest.raises(FetchError) as info:
        get(url, allow)
    assert "\n" not in info.value.reason
    return info.value.reason


# -- which addresses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.200.0.9", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),  # IPv4-mapped
        ("2002:7f00:1::", "a loopback address"),  # 6to4 around 127.0.0.1
        ("64:ff9b::7f00:1", "a loopback address"),  # NAT64 around 127.0.0.1
        ("0.0.0.0", "the unspecified address"),
        ("::", "the unspecified address"),
        ("169.254.169.254", "the cloud metadata address"),
        ("fd00:ec2::254", "the cloud metadata address"),
        ("::ffff:169.254.169.254", "the cloud metadata address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("::7f00:1", "a reserved address"),  # IPv4-compatible, deprecated
        ("10.1.2.3", "a private-network address"),
        ("172.16.0.1", "a private-network address"),
        ("192.168.1.1", "a private-network address"),
        ("fc00::1", "a private-network address"),
        ("100.64.0.1", "a non-public address"),  # carrier-grade NAT
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),  # NAT64 to a public address: how IPv6-only networks go out
    ],
)
def test_which_addresses_are_refused(address: str, kind: str | None) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


@given(st.text())
def test_endpoint_parsers_never_raise(text: str) -> None:
    for found in (endpoint(text), parse_host_port(text), endpoint("http://" + text)):
        assert found is None or (found[0] and 0 < found[1] < 65536)
    named_endpoints([text], [text])


def test_endpoints_are_spelled_as_a_connection_sees_them() -> None:
    assert endpoint("HTTP://Example.ORG/feed") == ("example.org", 80)
    assert endpoint("https://bücher.example:8443/") == ("xn--bcher-kva.example", 8443)
    assert endpoint("http://[::1]:8081/") == ("::1", 8081)
    assert endpoint("/srv/feeds/local.xml") is None
    assert parse_host_port("localhost:8081") == ("localhost", 8081)
    assert parse_host_port("[::1]:8081") == ("::1", 8081)
    assert parse_host_port("::1:8081") is None and parse_host_port("localhost") is None


# -- redirects and names into the internal network ------------------------------------------


def test_a_redirect_to_a_port_the_config_never_names_is_refused_without_connecting(
    feed_server: FeedServer, internal: FeedServer
) -> None:
    port = internal.httpd.server_address[1]
    named = named_endpoints([feed_server.base + "/feed"])  # A named, B not
    cases = {
        f"http://127.0.0.1:{port}/internal": f"127.0.0.1:{port} is a loopback address",
        f"http://localhost:{port}/internal": f"localhost:{port} resolves to 127.0.0.1, a loop",
        f"http://[::1]:{port}/internal": f"[::1]:{port} is a loopback address",
        f"http://[::ffff:127.0.0.1]:{port}/": f"[::ffff:127.0.0.1]:{port} is a loopback",
        f"http://0.0.0.0:{port}/internal": f"0.0.0.0:{port} is the unspecified address",
        "http://169.254.169.254/latest/meta-data/": "169.254.169.254:80 is the cloud metadata",
        "http://[fd00:ec2::254]/latest/": "[fd00:ec2::254]:80 is the cloud metadata address",
        "http://10.0.0.1:8080/admin": "10.0.0.1:8080 is a private-network address",
    }
    for i, (target, words) in enumerate(cases.items()):
        feed_server.routes[f"/r{i}"] = Route(b"", status=302, headers={"Location": target})
        reason = refusal(f"{feed_server.base}/r{i}", named)
        assert reason.startswith(f"redirect to {target} refused: {words}"), (target, reason)
        assert "allow_private" in reason
    assert internal.log == []  # not one connection reached the internal service


def test_a_named_host_on_another_port_is_not_named(
    feed_server: FeedServer, internal: FeedServer
) -> None:
    port = internal.httpd.server_address[1]
    feed_server.routes["/r"] = Route(
        b"", status=301, headers={"Location": f"http://127.0.0.1:{port}/internal"}
    )
    named = named_endpoints([feed_server.base + "/r"])
    assert "refused" in refusal(feed_server.base + "/r", named)
    allowed = named_endpoints([feed_server.base + "/r"], [f"127.0.0.1:{port}"])
    assert SECRET.encode() in get(feed_server.base + "/r", allowed).body  # allow_private


def test_a_name_resolving_inside_is_refused_even_as_the_first_url(internal: FeedServer) -> None:
    """Checked where the connection is made: the URL given to fetch is no exception unless it
    is named (the pipeline names its source URLs)."""
    port = internal.httpd.server_address[1]
    assert refusal(f"http://localhost:{port}/internal", frozenset()).startswith(
        f"refused: localhost:{port} resolves to 127.0.0.1, a loopback address"
    )
    named = named_endpoints([f"http://localhost:{port}/"])
    assert get(f"http://localhost:{port}/internal", named).status == 200
    assert len(internal.log) == 1


# -- the daemon and the commands ------------------------------------------------------------


def _config(tmp_path: Path, feed_server: FeedServer, internal: FeedServer, extra: str = "") -> Path:
    port = internal.httpd.server_address[1]
    for path, target in (("/to-feed", "/internal"), ("/to-error", "/error")):
        location = f"http://127.0.0.1:{port}{target}"
        feed_server.routes[path] = Route(b"", status=302, headers={"Location": location})
    ok = feed_server.serve_file("/ok", REAL / "rss-parser-guardian.rss")
    return write_config(
        tmp_path,
        f"{extra}"
        f'[[sources]]\nname = "to-feed"\nurl = "{feed_server.base}/to-feed"\n'
        f'[[sources]]\nname = "to-error"\nurl = "{feed_server.base}/to-error"\n'
        f'[[sources]]\nname = "ok"\nurl = "{ok}"\n',
    )


def test_run_refuses_the_redirect_publishes_nothing_internal_and_shows_no_internal_phrase(
    tmp_path: Path, feed_server: FeedServer, internal: FeedServer
) -> None:
    port = internal.httpd.server_address[1]
    config = _config(tmp_path, feed_server, internal)
    done = run_cli("run", "--once", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert internal.log == []
    all_atom = (tmp_path / "feeds" / "all.atom").read_text()
    assert "Source: ok" in all_atom and SECRET not in all_atom
    with sqlite3.connect(tmp_path / "state" / "s.sqlite") as db:
        errors = dict(db.execute("SELECT name, last_error FROM sources").fetchall())
    for name, target in (("to-feed", "/internal"), ("to-error", "/error")):
        assert errors[name].startswith(
            f"redirect to http://127.0.0.1:{port}{target} refused: 127.0.0.1:{port} is a loopback"
        ), errors[name]
    assert errors["ok"] is None
    status = run_cli("status", "--config", str(config), cwd=tmp_path)
    assert status.returncode == 0 and "refused" in status.stdout
    assert PHRASE not in done.stderr + status.stdout + str(errors)


def test_allow_private_lets_the_named_internal_host_and_port_through(
    tmp_path: Path, feed_server: FeedServer, internal: FeedServer
) -> None:
    port = internal.httpd.server_address[1]
    allow = f'[fetch]\nallow_private = ["127.0.0.1:{port}"]\n'
    config = _config(tmp_path, feed_server, internal, allow)
    done = run_cli("run", "--once", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert SECRET in (tmp_path / "feeds" / "all.atom").read_text()
    assert f"HTTP 500 {PHRASE}" in done.stderr  # allowed, so its answer is an answer


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ('"127.0.0.1:8081"', "fetch.allow_private"),
        ('["localhost"]', "fetch.allow_private[0]"),
        ('["localhost:99999"]', "fetch.allow_private[0]"),
        ('["ok:80", "::1:8081"]', "fetch.allow_private[1]"),
        ('["http://localhost:8081/"]', "fetch.allow_private[0]"),
    ],
)
def test_allow_private_entries_are_host_and_port(tmp_path: Path, value: str, key: str) -> None:
    config = write_config(tmp_path, f"[fetch]\nallow_private = {value}\n")
    done = run_cli("check", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 2 and f"invalid config: {key}:" in done.stderr, done.stderr


def test_add_does_not_follow_a_page_into_the_internal_network(
    tmp_path: Path, feed_server: FeedServer, internal: FeedServer
) -> None:
    port = internal.httpd.server_address[1]
    page = (
        f'<html><head><link rel="alternate" type="application/atom+xml" '
        f'href="http://127.0.0.1:{port}/internal"></head></html>'
    )
    feed_server.routes["/page"] = Route(page.encode(), "text/html")
    config = write_config(tmp_path, "")
    done = run_cli("add", feed_server.base + "/page", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 1 and "refused: 127.0.0.1" in done.stderr, done.stderr
    assert internal.log == [] and "[[sources]]" not in config.read_text()
    clean = run_cli("clean", f"{feed_server.base}/to-internal", cwd=tmp_path)  # 404 on A
    assert clean.returncode == 1
    feed_server.routes["/to-internal"] = Route(
        b"", status=302, headers={"Location": f"http://127.0.0.1:{port}/internal"}
    )
    clean = run_cli("clean", f"{feed_server.base}/to-internal", cwd=tmp_path)
    assert clean.returncode == 1 and "refused" in clean.stderr and SECRET not in clean.stdout
    # the user typing the internal URL itself names it
    typed = run_cli("add", f"http://127.0.0.1:{port}/internal", "--config", str(config))
    assert typed.returncode == 0, typed.stderr
    assert f"http://127.0.0.1:{port}/internal" in config.read_text()
