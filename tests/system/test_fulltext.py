"""Full text for teaser feeds (a source's `fulltext`) the whole way, over loopback, through
`syndicator run --once`: the article page fetched once per link through the host's gate, its
words matched and alerted, a failure leaving the teaser; off by default, and a bad value names
the key."""

from __future__ import annotations

import itertools
import re
import socket
from pathlib import Path

from tests.conftest import FeedServer, Route, run_cli, write_config
from tests.unit.test_fulltext import WORD, _config, article_page, teaser_feed

# -- the whole way, over loopback -----------------------------------------------------------------


def _atom(tmp_path: Path) -> str:
    return (tmp_path / "feeds" / "all.atom").read_text(encoding="utf-8")


def test_a_word_only_in_the_article_alerts_its_topic_once_per_link_and_politely(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    base = feed_server.base
    for n in range(2):
        feed_server.routes[f"/artikel/{n}"] = Route(article_page(n), content_type="text/html")
    links = [f"{base}/artikel/{n}?utm_source=rss" for n in range(2)]
    feed_server.routes["/feed.rss"] = Route(teaser_feed(base, links))
    config = _config(tmp_path, base + "/feed.rss")

    first = run_cli("run", "--once", "--config", str(config))
    assert first.returncode == 0, first.stderr
    alerts = [line for line in first.stdout.splitlines() if line.startswith("ALERT ")]
    assert len(alerts) == 2 and all("[modell]" in line for line in alerts), first.stdout
    atom = _atom(tmp_path)
    assert WORD in atom and "Opposition kritisierte" in atom
    for furniture in ("Cookies", "Haushaltsstreit", "Kommentarwortxyz", "Impressum"):
        assert furniture not in atom
    modell = (tmp_path / "feeds" / "modell.atom").read_text(encoding="utf-8")
    assert modell.count("<entry>") == 2

    # Politeness: the feed and both pages went through the one gate of their host, one at a
    # time and per_host_interval apart.
    requests = [r for r in feed_server.log if r.path in ("/feed.rss", "/artikel/0", "/artikel/1")]
    assert next(r.path for r in requests) == "/feed.rss" and len(requests) == 3
    gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
    assert all(gap >= 0.3 for gap in gaps), gaps
    assert "text/html" in feed_server.requests_to("/artikel/0")[0].headers["Accept"]

    # The teasers change (their entries are analysed again): the pages are not asked again,
    # and the full text stays.
    feed_server.routes["/feed.rss"] = Route(teaser_feed(base, links, extra=" (aktualisiert)"))
    second = run_cli("run", "--once", "--config", str(config))
    assert second.returncode == 0, second.stderr
    assert len(feed_server.requests_to("/artikel/0")) == 1
    assert len(feed_server.requests_to("/artikel/1")) == 1
    assert WORD in _atom(tmp_path) and "aktualisiert" not in _atom(tmp_path)
    assert not [line for line in second.stdout.splitlines() if line.startswith("ALERT ")]

    status = run_cli("status", "--config", str(config))
    assert "full text (article pages): zeitung 2 fetched" in status.stdout, status.stdout


def test_a_failed_page_leaves_the_teaser_says_why_and_is_not_asked_again(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    base = feed_server.base
    feed_server.routes["/artikel/0"] = Route(b"gone", status=404, content_type="text/plain")
    with socket.socket() as s:  # a loopback port nobody named: the address guard refuses it
        s.bind(("127.0.0.1", 0))
        hidden = f"http://user:geheim@127.0.0.1:{s.getsockname()[1]}/intern"
    feed_server.routes["/feed.rss"] = Route(teaser_feed(base, [f"{base}/artikel/0", hidden]))
    config = _config(tmp_path, base + "/feed.rss")

    first = run_cli("run", "--once", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert "Brückenplan vor" in _atom(tmp_path)  # the teasers stand
    assert not [line for line in first.stdout.splitlines() if line.startswith("ALERT ")]
    assert re.search(r"full text of \S+/artikel/0 not fetched: HTTP 404", first.stderr)
    assert re.search(
        r"full text of \S+/intern not fetched: .*(refused|private|loopback)", first.stderr
    ), first.stderr
    assert "geheim" not in first.stderr

    feed_server.routes["/feed.rss"] = Route(
        teaser_feed(base, [f"{base}/artikel/0", hidden], extra=" (neu)")
    )
    second = run_cli("run", "--once", "--config", str(config))
    assert second.returncode == 0, second.stderr
    assert len(feed_server.requests_to("/artikel/0")) == 1
    assert "not fetched" not in second.stderr
    status = run_cli("status", "--config", str(config))
    assert "zeitung 0 fetched, 2 failed" in status.stdout, status.stdout


def test_fulltext_off_by_default_and_a_bad_value_names_the_key(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    base = feed_server.base
    feed_server.routes["/artikel/0"] = Route(article_page(0), content_type="text/html")
    feed_server.routes["/feed.rss"] = Route(teaser_feed(base, [f"{base}/artikel/0"]))
    config = write_config(tmp_path, f'[[sources]]\nname = "z"\nurl = "{base}/feed.rss"\n')
    assert run_cli("run", "--once", "--config", str(config)).returncode == 0
    assert feed_server.requests_to("/artikel/0") == []
    bad = _config(tmp_path, base + "/feed.rss")
    bad.write_text(bad.read_text().replace('fulltext = "auto"', 'fulltext = "sometimes"'))
    result = run_cli("check", "--config", str(bad))
    assert result.returncode == 2 and "sources[0].fulltext" in result.stderr, result.stderr
