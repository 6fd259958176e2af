"""JSON Feed 1.1 beside every Atom feed, through a real `syndicator run --once`: valid against
the spec's fields, the same entries as the Atom file, listed by `status`, no secret of a source
in it, served with ETag, Last-Modified and 304s, and announced to the WebSub hub."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from lxml import etree

from syndicator.publish import JSON_FEED_VERSION
from syndicator.serve import FeedServer
from tests.conftest import DATA, Route, free_port, run_cli, write_config
from tests.conftest import FeedServer as SourceServer
from tests.unit.test_publish_jsonfeed import check_json_feed, parse_time

ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def published(tmp_path: Path, feed_server: SourceServer) -> Path:
    url = feed_server.serve_file("/sample.rss", DATA / "sample-news.rss")
    config = write_config(
        tmp_path,
        f"""
[[sources]]
name = "sample"
url = "{url}"

[[topics]]
name = "nato"
query = "NATO"
""",
    )
    result = run_cli("run", "--once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    return tmp_path / "feeds"


def test_every_feed_has_a_json_twin_with_the_same_entries(published: Path) -> None:
    base = published.resolve().as_uri() + "/"
    for name in ("all", "nato"):
        feed = json.loads((published / f"{name}.json").read_bytes())
        check_json_feed(feed, f"{base}{name}.json")
        atom = etree.parse(str(published / f"{name}.atom")).getroot()
        entries = atom.findall(f"{ATOM}entry")
        assert len(feed["items"]) == len(entries) > 0
        for item, entry in zip(feed["items"], entries, strict=True):
            assert item["id"] == entry.findtext(f"{ATOM}id")
            assert item["title"] == entry.findtext(f"{ATOM}title")
            assert item["content_html"] == entry.findtext(f"{ATOM}content")
            assert item["summary"] == entry.findtext(f"{ATOM}summary")
            links = [a.get("href") for a in entry.iter(f"{ATOM}link")]
            assert links == ([item["url"]] if "url" in item else [])
            assert parse_time(item["date_modified"]) == parse_time(entry.findtext(f"{ATOM}updated"))
    nato = json.loads((published / "nato.json").read_bytes())
    assert all("nato" in item["tags"] for item in nato["items"])
    assert any("Matched nato: NATO" in item["summary"] for item in nato["items"])
    # The article the project started from, cleaned as in the Atom feed: no tracking in links.
    assert all("utm_" not in item.get("url", "") for item in nato["items"])


def test_status_lists_the_json_feeds(published: Path) -> None:
    status = run_cli("status", "--config", str(published.parent / "config.toml"))
    lines = status.stdout.splitlines()
    atom = next(line.split()[1] for line in lines if line.split()[:1] == ["all.atom"])
    assert any(line.split()[:2] == ["all.json", atom] for line in lines)


@pytest.fixture
def served(published: Path) -> Iterator[str]:
    server = FeedServer(published, "127.0.0.1", 0)
    server.start()
    host, port = server.address
    yield f"http://{host}:{port}"
    server.stop()


@pytest.mark.parametrize("name", ["all", "nato"])
def test_json_feeds_are_served_with_validators_and_304(
    served: str, published: Path, name: str
) -> None:
    first = httpx.get(f"{served}/{name}.json")
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "application/feed+json; charset=utf-8"
    assert first.content == (published / f"{name}.json").read_bytes()
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert httpx.get(f"{served}/{name}.json", headers={"If-None-Match": etag}).status_code == 304
    since = httpx.get(f"{served}/{name}.json", headers={"If-Modified-Since": modified})
    assert since.status_code == 304 and since.content == b""
    other = httpx.get(f"{served}/{name}.json", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200
    atom_etag = httpx.get(f"{served}/{name}.atom").headers["ETag"]
    assert atom_etag != etag  # each file has its own validator
    with httpx.Client() as client:
        packed = client.get(f"{served}/{name}.json", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert json.loads(packed.content)["version"] == JSON_FEED_VERSION  # httpx unpacked it


def test_the_status_page_links_the_json_feeds(served: str) -> None:
    page = httpx.get(f"{served}/").text
    assert 'href="/all.json"' in page and 'href="/nato.json"' in page


def test_only_feed_names_are_served(served: str, published: Path) -> None:
    (published / "notes.txt").write_text("{}")
    assert httpx.get(f"{served}/notes.txt").status_code == 404
    assert httpx.get(f"{served}/../config.json").status_code == 404
    assert httpx.get(f"{served}/missing.json").status_code == 404


def test_a_source_url_secret_never_reaches_the_json_feed(
    tmp_path: Path, feed_server: SourceServer
) -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><guid>a</guid><title>NATO</title><link>#more</link>"
        b'<description>&lt;p&gt;NATO &lt;a href="?page=2"&gt;more&lt;/a&gt;&lt;/p&gt;'
        b"</description></item></channel></rss>"
    )
    feed_server.routes["/feed.rss?apikey=KEY-s3cret-991"] = Route(body)
    host = feed_server.base.removeprefix("http://")
    config = write_config(
        tmp_path,
        f"""
[[sources]]
name = "private"
url = "http://reader:pa55-s3cret@{host}/feed.rss?apikey=KEY-s3cret-991"
""",
    )
    result = run_cli("run", "--once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    data = (tmp_path / "feeds" / "all.json").read_text(encoding="utf-8")
    (item,) = json.loads(data)["items"]
    assert item["title"] == "NATO"
    assert "KEY-s3cret-991" not in data and "pa55-s3cret" not in data
    assert item["url"] == f"http://{host}/feed.rss#more"  # resolved against the public URL


def test_websub_hub_is_told_of_the_json_feeds_too(
    tmp_path: Path, feed_server: SourceServer
) -> None:
    url = feed_server.serve_file("/sample.rss", DATA / "sample-news.rss")
    port = free_port()
    config = write_config(
        tmp_path,
        f"""
[server]
listen = "127.0.0.1:{port}"
websub_hub = "{feed_server.base}/hub"
[[sources]]
name = "sample"
url = "{url}"
""",
    )
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    pings = {r.body.decode() for r in feed_server.requests_to("/hub")}
    assert f"hub.mode=publish&hub.url=http%3A%2F%2F127.0.0.1%3A{port}%2Fall.json" in pings
    feed = json.loads((tmp_path / "feeds" / "all.json").read_bytes())
    assert feed["hubs"] == [{"type": "WebSub", "url": f"{feed_server.base}/hub"}]
    assert feed["home_page_url"] == f"http://127.0.0.1:{port}/"
    assert feed["feed_url"] == f"http://127.0.0.1:{port}/all.json"
