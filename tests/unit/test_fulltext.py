"""Full text for teaser feeds (syndicator/fulltext.py), in process: the extraction of a news
page's main text, and a cluster worker fetching the page through the shared host gate. The
teaser decision is in tests/unit/test_decide.py, the memory of pages in
tests/unit/test_store_fulltext.py, the whole way over loopback in tests/system/test_fulltext.py."""

from __future__ import annotations

import html
import itertools
from pathlib import Path

from syndicator.fulltext import extract_main
from tests.conftest import FeedServer, Route, write_config

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


# -- the extraction (pure) -------------------------------------------------------------------------


def test_the_main_text_of_a_news_page_leaves_its_furniture_out() -> None:
    found, why = extract_main(article_page(1), "http://e.example/a", {"Content-Type": "text/html"})
    assert why == "" and WORD in found and "Opposition kritisierte" in found
    for furniture in ("Cookies", "Startseite", "Haushaltsstreit", "Kommentarwortxyz", "Impressum"):
        assert furniture not in found
    assert extract_main(b"%PDF-1.4", "http://e/a", {"Content-Type": "application/pdf"})[1] == (
        "not an HTML page (application/pdf)"
    )
    assert extract_main(b"<html><body><p>Login</p></body></html>", "http://e/a", {})[0] == ""


# -- a cluster worker, in process ------------------------------------------------------------------


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
