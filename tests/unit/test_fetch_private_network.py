"""The daemon is no proxy into the network it runs in: a redirect, or a name that resolves, into
loopback, private, link-local, multicast, reserved or unspecified addresses is refused at
connect time, unless the user named that host and port (a source URL or `[fetch]
allow_private`). On loopback: server A is the "public" source the user named; server B, on a
port the config never names, stands for the internal service."""

from __future__ import annotations

import asyncio
import ipaddress

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
from tests.conftest import SECRET, FeedServer, Route

LIMITS = Limits(timeout=5, connect_timeout=2)


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
