"""Full text for teaser feeds (a source's `fulltext`): the teaser decision, the extraction of
a news page's main text, and the whole way over loopback: the article page fetched once per
link through the host's gate, its words matched and alerted, a failure leaving the teaser."""

from __future__ import annotations

import html
import itertools
import re
import socket
from pathlib import Path

from syndicator.decide import TEASER_WORDS, needs_fulltext
from syndicator.fulltext import extract_main
from syndicator.model import CleanEntry, FullTextPage, NewEntry, ParsedEntry, SourceState
from syndicator.store import SCHEMA_VERSION, SQLStore
from tests.conftest import Backend, FeedServer, Route, run_cli, write_config

# -- a news page as sites serve them ----------------------------------------------------------

BODY = [
    "Die Landesregierung hat am Dienstag einen Plan zur Sanierung der Brücken vorgelegt, "
    "der in den kommenden zehn Jahren umgesetzt werden soll.",
    "Nach Angaben des Verkehrsministeriums sind mehr als dreihundert Bauwerke betroffen; "
    "besonders dringend sei die Lage an den Autobahnen im Norden des Landes.",
    "Das Gutachten nennt ausdrücklich das {word} als Vorbild für die Finanzierung, weil es "
    "Bund, Land und Kommunen an den Kosten beteilige.",
    "Die Opposition kritisierte den Zeitplan als zu langsam und forderte zusätzliche Mittel "
    "für die Planungsbehörden, die seit Jahren unterbesetzt seien.",
]
WORD = "Zaunkönigmodell"  # only in the article body: the teaser does not have it


def article_page(n: int, word: str = WORD) -> bytes:
    paragraphs = "".join(f"<p>{p.format(word=word)} (Teil {n})</p>" for p in BODY)
    return f"""<!DOCTYPE html><html lang="de"><head><meta charset="utf-8">
<title>Brückenplan {n} | Beispiel-Zeitung</title></head><body>
<header><nav><ul><li><a href="/">Startseite</a></li><li><a href="/politik">Politik</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/kultur">Kultur</a></li></ul></nav></header>
<div id="cookie-banner" class="consent">Wir verwenden Cookies, um Ihnen das beste Erlebnis zu
bieten. <button>Alle akzeptieren</button> <button>Einstellungen</button></div>
<main><article><h1>Brückenplan {n}: Land will sanieren</h1>
<p class="byline">Von Erika Beispiel, 30.11.2026</p>{paragraphs}</article>
<aside class="related"><h2>Mehr zum Thema</h2><ul>
<li><a href="/politik/haushalt">Haushaltsstreit im Landtag</a></li>
<li><a href="/politik/autobahn">Autobahn bleibt gesperrt</a></li></ul></aside>
<section id="comments" class="comments"><h2>Kommentare (3)</h2>
<div class="comment"><p>Leserbriefschreiber: Kommentarwortxyz, das war überfällig!</p></div>
</section></main>
<footer><a href="/impressum">Impressum</a> <a href="/datenschutz">Datenschutz</a>
© 2026 Beispiel-Zeitung</footer></body></html>""".encode()


def teaser_feed(base: str, links: list[str], extra: str = "") -> bytes:
    items = []
    for n, link in enumerate(links):
        body = (
            f"<p>Die Landesregierung legt einen Brückenplan vor{extra} …</p>"
            f'<p><a href="{html.escape(link)}">Weiterlesen</a></p>'
        )
        items.append(
            f"<item><title>Brückenplan {n}</title><link>{html.escape(link)}</link>"
            f"<guid>bp-{n}</guid><description>{html.escape(body)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Beispiel</title><link>{base}/</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


# -- the decision and the extraction (pure) -----------------------------------------------------


def test_a_teaser_is_short_or_points_to_the_page() -> None:
    link = "https://e.example/a"
    long_text = " ".join(["Wort"] * (TEASER_WORDS + 5))
    assert not needs_fulltext("off", "<p>kurz</p>", "kurz", link)
    assert needs_fulltext("auto", "<p>kurz</p>", "kurz", link)
    assert not needs_fulltext("auto", f"<p>{long_text}.</p>", long_text, link)
    # Long, but cut off: an ellipsis or a read-more link the cleaner took out.
    assert needs_fulltext("auto", f"<p>{long_text} […]</p>", long_text, link)
    assert needs_fulltext(
        "auto", f'<p>{long_text}</p><a href="{link}">Read more »</a>', long_text, link
    )
    assert needs_fulltext("on", f"<p>{long_text}.</p>", long_text, link)
    assert not needs_fulltext("on", "<p>kurz</p>", "kurz", "")  # nothing to fetch
    assert not needs_fulltext("auto", "<p>kurz</p>", "kurz", "javascript:alert(1)")


def test_the_main_text_of_a_news_page_leaves_its_furniture_out() -> None:
    found, why = extract_main(article_page(1), "http://e.example/a", {"Content-Type": "text/html"})
    assert why == "" and WORD in found and "Opposition kritisierte" in found
    for furniture in ("Cookies", "Startseite", "Haushaltsstreit", "Kommentarwortxyz", "Impressum"):
        assert furniture not in found
    assert extract_main(b"%PDF-1.4", "http://e/a", {"Content-Type": "application/pdf"})[1] == (
        "not an HTML page (application/pdf)"
    )
    assert extract_main(b"<html><body><p>Login</p></body></html>", "http://e/a", {})[0] == ""


# -- the whole way, over loopback -----------------------------------------------------------------


def _config(tmp_path: Path, feed_url: str, extra: str = "") -> Path:
    return write_config(
        tmp_path,
        f"""
[fetch]
per_host = 1
per_host_interval = "0.4s"

[[sources]]
name = "zeitung"
url = "{feed_url}"
fulltext = "auto"
{extra}

[[topics]]
name = "modell"
query = "{WORD}"

[[alerts]]
type = "console"
""",
    )


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


def test_a_cluster_worker_fetches_the_page_through_the_shared_host_gate(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str
) -> None:
    """cluster.WorkerPipeline polls with ClusterGates: the article page waits for a slot of
    its host in the shared store, as the feed does, and is remembered there."""
    from syndicator.cluster import WorkerPipeline
    from syndicator.config import load_config
    from syndicator.store import open_store

    base = feed_server.base
    feed_server.routes["/artikel/0"] = Route(article_page(0), content_type="text/html")
    feed_server.routes["/feed.rss"] = Route(teaser_feed(base, [f"{base}/artikel/0"]))
    path = _config(tmp_path, base + "/feed.rss")
    path.write_text(path.read_text().replace('"state/s.sqlite"', f'"{postgres_url}"'))
    config = load_config(path)
    store = open_store(config)
    try:
        worker = WorkerPipeline(config, store)  # type: ignore[arg-type]
        assert not worker.poll_sources(["zeitung"]).failed
        worker.close()
        (entry,) = store.feed_entries("modell", 5)
        assert WORD in entry.text and "Cookies" not in entry.text
        page = store.fulltext_pages([f"{base}/artikel/0"])[f"{base}/artikel/0"]
        assert page.ok and page.source == "zeitung"
        assert store.fulltext_counts() == {"zeitung": (1, 0)}
        gaps = [b.at - a.at for a, b in itertools.pairwise(feed_server.log)]
        assert gaps and all(gap >= 0.3 for gap in gaps), gaps  # per_host_interval, shared
    finally:
        store.close()


# -- the memory of pages, in both stores --------------------------------------------------------


def test_the_store_remembers_pages_and_failures_per_link(store: SQLStore) -> None:
    ok = FullTextPage("https://e/a", "src", True, "<p>Text</p>")
    failed = FullTextPage("https://e/b", "src", False, reason="HTTP 404")
    store.save_poll(SourceState("src"), [], [], 10.0, pages=[ok, failed])
    found = store.fulltext_pages(["https://e/a", "https://e/b", "https://e/c"])
    assert found == {"https://e/a": ok, "https://e/b": failed}
    assert store.fulltext_counts() == {"src": (1, 1)}
    # Retention: pages fetched before the cut go with the entries.
    store.save_poll(
        SourceState("src"), [], [], 20.0, pages=[FullTextPage("https://e/c", "src", True, "x")]
    )
    store.save_poll(
        SourceState("src"),
        [
            NewEntry(
                "src",
                ParsedEntry("k", "t", "https://e/k", "<p>x</p>"),
                "d",
                CleanEntry("t", "https://e/k", "<p>x</p>", "x"),
                (),
            )
        ],
        [],
        5.0,
    )
    store.forget(15.0)
    assert set(store.fulltext_pages(["https://e/a", "https://e/b", "https://e/c"])) == {
        "https://e/c"
    }


def test_a_schema_6_state_gets_the_new_tables(backend: Backend) -> None:
    store = backend.open()
    for table in ("source_blocks", "fulltext"):
        store._db.execute(f"DROP TABLE {table}")
    store._db.execute("UPDATE meta SET value='6' WHERE key='schema'")
    if backend.kind == "sqlite":
        store._db.commit()  # type: ignore[attr-defined]
    store.close()
    again = backend.open()
    again.save_poll(
        SourceState("s"), [], [], 1.0, pages=[FullTextPage("https://e/a", "s", True, "x")]
    )
    assert again.fulltext_counts() == {"s": (1, 0)} and again.template_history("s") == []
    (version,) = again._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    assert version == str(SCHEMA_VERSION)
