"""Deterministic, realistic news feeds and a loopback HTTP server for them (for bench/perf.py).

`generate()` builds N feeds x M entries of multilingual news HTML (~2.5 KB per entry by default)
with the boilerplate real feeds carry: share bars, `[Anzeige_2]`, "The post … appeared first
on …", "Read also" links with utm parameters, ad slots with scripts, tracking pixels. Feeds are
RSS 2.0 (content:encoded) or Atom (content type="html"), mixed, in six languages.

`serve()` runs one ThreadingHTTPServer per loopback address (127.0.0.1, 127.0.0.2, …) so a
client's per-host limits see many hosts, as with real sources. Every document has a strong
ETag and a fixed Last-Modified; a conditional request whose validator holds gets 304. Bodies
are gzip-encoded when the client accepts it (precomputed, as a CDN would). GET /__stats on
any host returns the response counts since the last GET /__reset.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import random
import selectors
import socket
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection

BASE_TIME = datetime(2024, 5, 14, 12, 0, tzinfo=UTC)
LAST_MODIFIED = format_datetime(BASE_TIME, usegmt=True)

FUNCTION_WORDS: dict[str, str] = {
    "de": "der die das und in den von zu mit sich des auf für ist im dem nicht ein eine als auch"
    " es an werden aus er hat dass sie nach wird bei einer um am sind noch wie über so zum",
    "en": "the of and to in a is that for it as was with be by on not he this are or his from"
    " at which but have an they has were their been its more will would who about",
    "fr": "le de la les et des en un une du est que dans pour qui au sur par pas plus avec ce"
    " il ne se sont aux été cette mais ou son elle d\u2019un l\u2019État l\u2019Union qu\u2019il",
    "es": "el la de que y en los del se las por un para con una su al lo como más pero sus le"
    " ya o este sí porque esta entre cuando muy sin sobre también",
    "it": "il di che la e per un in una non è del della le con da si dei nel alla più come"
    " ma anche sono gli delle questo",
    "pl": "i w na z się nie do to że jest o jak po ale tak od za co przez dla już tylko być",
}

CONTENT_WORDS: dict[str, str] = {
    "de": "Regierung Bundeskanzler Verteidigungsminister Bündnis Sicherheit Abkommen Gipfel"
    " Wirtschaft Inflation Energiewende Klimaschutz Wahlkampf Ministerpräsident Außenpolitik"
    " Bundeswehr Krieg Verhandlungen Sanktionen Haushalt Schuldenbremse Krankenhaus Gewerkschaft"
    " Tarifverhandlungen Handelsabkommen Exporte Automobilindustrie Elektroauto Batteriefabrik"
    " Landtagswahl Umfrage Koalition Opposition Flüchtlinge Grenze Polizei Gericht Urteil"
    " Digitalisierung Datenschutz Mieten Wohnungsbau Bürgermeister Stadtrat Bahnhof Fußball",
    "en": "government minister alliance security agreement summit economy inflation election"
    " climate parliament defence war negotiations sanctions budget hospital union trade"
    " exports industry electric vehicle battery factory poll coalition opposition refugees"
    " border police court ruling privacy housing wildfire interest rates unemployment mayor"
    " council railway football",
    "fr": "gouvernement ministre alliance sécurité accord sommet économie inflation élections"
    " climat parlement défense guerre négociations sanctions budget hôpital syndicat commerce"
    " exportations industrie voiture électrique batterie sondage coalition opposition réfugiés"
    " frontière police tribunal logement incendie chômage retraites maire conseil gare football",
    "es": "gobierno ministro alianza seguridad acuerdo cumbre economía inflación elecciones"
    " clima parlamento defensa guerra negociaciones sanciones presupuesto hospital sindicato"
    " comercio exportaciones industria coche eléctrico batería encuesta coalición oposición"
    " refugiados frontera policía tribunal vivienda incendio desempleo alcalde estación fútbol",
    "it": "governo ministro alleanza sicurezza accordo vertice economia inflazione elezioni"
    " clima parlamento difesa guerra negoziati sanzioni bilancio ospedale sindacato commercio"
    " esportazioni industria auto elettrica batteria sondaggio coalizione opposizione"
    " rifugiati confine polizia tribunale casa incendio disoccupazione sindaco stazione calcio",
    "pl": "rząd minister sojusz bezpieczeństwo porozumienie szczyt gospodarka inflacja wybory"
    " klimat parlament obrona wojna negocjacje sankcje budżet szpital związek handel eksport"
    " przemysł samochód elektryczny bateria sondaż koalicja opozycja uchodźcy granica policja"
    " sąd mieszkania pożar bezrobocie burmistrz rada dworzec piłka",
}

# Terms the benchmark's topics look for: rare, as in real news (one topical sentence is put
# into about a quarter of the entries), not spread over every entry by the word sampler.
TOPIC_TERMS: dict[str, tuple[str, ...]] = {
    "de": (
        "NATO", "Indopazifik", "Ukraine", "Waffenstillstand", "künstliche Intelligenz",
        "Halbleiter", "Bahnstreik", "Hitzewelle", "Dürre", "Zentralbank", "Zölle", "Japan",
        "China",
    ),
    "en": (
        "NATO", "North Atlantic Treaty", "Indo-Pacific", "Ukraine", "ceasefire",
        "artificial intelligence", "semiconductors", "strike", "heatwave", "drought",
        "central bank", "tariffs", "Japan", "China",
    ),
    "fr": (
        "OTAN", "Indo-Pacifique", "Ukraine", "cessez-le-feu", "intelligence artificielle",
        "semi-conducteurs", "grève", "canicule", "sécheresse", "Banque centrale",
        "droits de douane", "Japon", "Chine",
    ),
    "es": (
        "OTAN", "Indopacífico", "Ucrania", "alto el fuego", "inteligencia artificial",
        "semiconductores", "huelga", "ola de calor", "sequía", "Banco central", "aranceles",
        "Japón", "China",
    ),
    "it": (
        "NATO", "Indo-Pacifico", "Ucraina", "cessate il fuoco", "intelligenza artificiale",
        "semiconduttori", "sciopero", "ondata di calore", "siccità", "Banca centrale", "dazi",
        "Giappone", "Cina",
    ),
    "pl": (
        "NATO", "Indo-Pacyfik", "Ukraina", "zawieszenie broni", "sztuczna inteligencja",
        "półprzewodniki", "strajk", "upał", "susza", "bank centralny", "cła", "Japonia", "Chiny",
    ),
}  # fmt: skip

# The topics written into the benchmark's syndicator config (name, query).
TOPICS: tuple[tuple[str, str], ...] = (
    ("nato", 'NATO OR OTAN OR "North Atlantic Treaty"'),
    (
        "indo-pacific",
        '"Indo-Pacific" OR Indopazifi* OR "Indo-Pacifique" OR Indopacífico OR "Indo-Pacyfik"',
    ),
    (
        "ukraine-ceasefire",
        "(Ukraine OR Ucrania OR Ucraina OR Ukraina) AND (Waffenstillstand OR ceasefire OR"
        ' "cessez-le-feu" OR "alto el fuego" OR "cessate il fuoco" OR "zawieszenie broni")',
    ),
    (
        "ai",
        '"künstliche Intelligenz" OR "artificial intelligence" OR "intelligence artificielle"'
        ' OR "inteligencia artificial" OR "intelligenza artificiale" OR "sztuczna inteligencja"',
    ),
    (
        "chips",
        'Halbleiter* OR semiconductor* OR "semi-conducteurs" OR semiconductores OR'
        " semiconduttori OR półprzewodniki",
    ),
    ("strikes", "Bahnstreik OR Streik* OR strike OR grève OR huelga OR sciopero OR strajk"),
    (
        "heat-drought",
        '(Hitzewelle OR heatwave OR canicule OR "ola de calor" OR "ondata di calore" OR upał)'
        " OR (Dürre AND Klimaschutz) OR drought OR sécheresse OR sequía OR siccità OR susza",
    ),
    (
        "central-banks",
        '"central bank" OR "Banque centrale" OR "Banco central" OR "Banca centrale" OR'
        ' "bank centralny" OR Zentralbank OR EZB',
    ),
    (
        "tariffs",
        '(Zölle OR tariffs OR "droits de douane" OR aranceles OR dazi OR cła) -Fußball',
    ),
    (
        "japan-china",
        "title:(Japan OR Japon OR Japón OR Giappone OR Japonia OR China OR Chine OR Cina OR Chiny)",
    ),
)

LANG_WEIGHTS: dict[str, int] = {"de": 30, "en": 30, "fr": 12, "es": 12, "it": 8, "pl": 8}

# Per-language boilerplate phrases (the WordPress ones are WordPress's own translations).
PHRASES: dict[str, dict[str, str]] = {
    "de": {
        "read": "Lesen Sie auch:",
        "share": "Teilen mit:",
        "news": "Jetzt Newsletter abonnieren",
        "post": "Der Beitrag {title} erschien zuerst auf {site}.",
        "photo": "Foto",
    },
    "en": {
        "read": "Read also:",
        "share": "Share this:",
        "news": "Sign up for our newsletter",
        "post": "The post {title} appeared first on {site}.",
        "photo": "Photo",
    },
    "fr": {
        "read": "Lire aussi :",
        "share": "Partager :",
        "news": "Inscrivez-vous à notre newsletter",
        "post": "L\u2019article {title} est apparu en premier sur {site}.",
        "photo": "Photo",
    },
    "es": {
        "read": "Lee también:",
        "share": "Compartir:",
        "news": "Suscríbete a nuestro boletín",
        "post": "La entrada {title} se publicó primero en {site}.",
        "photo": "Foto",
    },
    "it": {
        "read": "Leggi anche:",
        "share": "Condividi:",
        "news": "Iscriviti alla newsletter",
        "post": "L'articolo {title} sembra essere il primo su {site}.",
        "photo": "Foto",
    },
    "pl": {
        "read": "Przeczytaj też:",
        "share": "Udostępnij:",
        "news": "Zapisz się do newslettera",
        "post": "Wpis {title} pochodzi z serwisu {site}.",
        "photo": "Fot.",
    },
}

SITE_WORDS = "Kurier Tribune Zeitung Courrier Diario Gazzetta Gazeta Post Observer Rundschau"
SPACES = [" "] * 30 + ["\u00a0"]


@dataclass(frozen=True)
class FeedDoc:
    """One generated feed: where it is served and its bytes."""

    host: int  # index of the loopback address it is served from (127.0.0.<host+1>)
    path: str
    body: bytes
    content_type: str
    entries: int
    lang: str


def _sentence(rng: random.Random, lang: str) -> str:
    func = FUNCTION_WORDS[lang].split()
    content = CONTENT_WORDS[lang].split()
    words = [
        rng.choice(func) if rng.random() < 0.45 else rng.choice(content)
        for _ in range(rng.randint(7, 19))
    ]
    if rng.random() < 0.05:
        i = rng.randrange(len(words))
        w = words[i]
        if len(w) > 8:
            words[i] = w[:4] + "\u00ad" + w[4:]  # soft hyphen, as CMSes insert them
    text = "".join(w + rng.choice(SPACES) for w in words).rstrip()
    if rng.random() < 0.2:
        text = f"{text}, „{rng.choice(content)} &amp; {rng.choice(content)}“"
    return text[:1].upper() + text[1:] + rng.choice("..!?.")


def _slug(rng: random.Random, lang: str) -> str:
    content = CONTENT_WORDS[lang].split()
    words = [rng.choice(content).lower() for _ in range(rng.randint(3, 6))]
    return "-".join(w.encode("ascii", "ignore").decode() or "x" for w in words)


def _title(rng: random.Random, lang: str) -> str:
    content = CONTENT_WORDS[lang].split()
    func = FUNCTION_WORDS[lang].split()
    words = [rng.choice(content if i % 2 == 0 else func) for i in range(rng.randint(5, 10))]
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


def _utm(rng: random.Random, slug: str) -> str:
    return f"?utm_source=rss&amp;utm_medium=rss&amp;utm_campaign={slug}" + (
        "&amp;fbclid=IwAR" + str(rng.randrange(10**9)) if rng.random() < 0.3 else ""
    )


def _wordpress(
    rng: random.Random, lang: str, site: str, domain: str, slug: str, title: str, body: str
) -> str:
    p = PHRASES[lang]
    other = _slug(rng, lang)
    img = f"https://{domain}/wp-content/uploads/2024/05/{slug[:40]}"
    share = "".join(
        f'<li class="share-{n}"><a rel="nofollow noopener noreferrer" class="share-{n} sd-button'
        f' share-icon" href="https://{domain}/{slug}/?share={n}" target="_blank" title="'
        f'{n.title()}"><span>{n.title()}</span></a></li>'
        for n in ("twitter", "facebook", "email")
    )
    return (
        f'<div class="entry-content">{body}'
        f'<figure class="wp-block-image size-large"><img loading="lazy" decoding="async"'
        f' src="{img}-1024x576.jpg" width="1024" height="576" alt="{html.escape(title[:40])}"'
        f' srcset="{img}-1024x576.jpg 1024w, {img}-300x169.jpg 300w"'
        f' sizes="(max-width: 1024px) 100vw, 1024px"><figcaption>{p["photo"]}: {site}'
        f"</figcaption></figure>"
        f'<p>{p["read"]} <a href="https://{domain}/{other}/{_utm(rng, other)}">'
        f"{_title(rng, lang)}</a></p></div>"
        f'<div class="sharedaddy sd-sharing-enabled"><div class="robots-nocontent sd-block'
        f' sd-social sd-social-icon-text sd-sharing"><h3 class="sd-title">{p["share"]}</h3>'
        f'<div class="sd-content"><ul>{share}</ul></div></div></div>'
        "<p>"
        + p["post"].format(
            title=f'<a rel="nofollow" href="https://{domain}/{slug}/">{html.escape(title)}</a>',
            site=f'<a rel="nofollow" href="https://{domain}">{site}</a>',
        )
        + "</p>"
        f'<img src="https://feeds.feedburner.com/~r/{domain.split(".")[0]}/~4/'
        f'{hashlib.sha1(slug.encode()).hexdigest()[:11]}" height="1" width="1" alt="">'
    )


def _scraper(
    rng: random.Random, lang: str, site: str, domain: str, slug: str, title: str, body: str
) -> str:
    p = PHRASES[lang]
    more = "".join(
        f'<li><a href="https://{domain}/{(s := _slug(rng, lang))}{_utm(rng, s)}">'
        f"{_title(rng, lang)}</a></li>"
        for _ in range(3)
    )
    return (
        f"{body}"
        f'<p><img src="https://{domain}/media/{slug[:30]}.jpg" width="940" height="529" alt="">'
        f"</p><p>{_sentence(rng, lang)}</p>"
        f"<p>[Anzeige_{rng.randint(1, 3)}]</p>"
        f"<p><strong>{p['read']}</strong></p><ul>{more}</ul>"
        f'<p><a href="https://{domain}/quelle/{slug}{_utm(rng, slug)}">Quellenlink</a></p>'
        f'<p><a href="https://{domain}/{slug}#comments">Kommentar ({rng.randint(0, 40)})</a></p>'
        f"<p>{p['news']}</p>"
        f'<img src="https://{domain}/cpx.php?id={rng.randrange(10**6)}" width="1" height="1"'
        ' alt="">'
    )


def _newsroom(
    rng: random.Random, lang: str, site: str, domain: str, slug: str, title: str, body: str
) -> str:
    p = PHRASES[lang]
    other = _slug(rng, lang)
    slot = rng.randrange(10**4)
    return (
        f'<div class="article-body"><p class="lead"><strong>{_sentence(rng, lang)}</strong></p>'
        f"{body}"
        f'<div class="ad-slot" id="ad-{slot}"><script>window.googletag=window.googletag||'
        f"{{cmd:[]}};googletag.cmd.push(function(){{googletag.display('ad-{slot}');}});"
        "</script></div>"
        f'<aside class="related"><p>{p["read"]} <a href="https://{domain}/{other}.html'
        f'{_utm(rng, other)}&amp;xtor=RSS-{rng.randint(1, 999)}">{_title(rng, lang)}</a></p>'
        "</aside>"
        f'<div class="social-share"><span>{p["share"]}</span>'
        f' <a href="https://www.facebook.com/sharer.php?u=https://{domain}/{slug}.html">'
        "Facebook</a> "
        f'<a href="https://twitter.com/intent/tweet?url=https://{domain}/{slug}.html">X</a>'
        "</div>"
        f"<p><em>{p['news']}</em></p></div>"
        f'<img src="https://pixel.{domain}/g.gif?v=ext&amp;blog={rng.randrange(10**8)}'
        f'&amp;post={rng.randrange(10**6)}&amp;utm_source=rss" alt="" width="1" height="1">'
    )


TEMPLATES: tuple[Callable[..., str], ...] = (_wordpress, _scraper, _newsroom)


def _entry_html(
    rng: random.Random,
    lang: str,
    template: Callable[..., str],
    site: str,
    domain: str,
    slug: str,
    title: str,
    size: int,
) -> str:
    boiler = template(rng, lang, site, domain, slug, title, "")
    paragraphs: list[str] = []
    total = 0
    target = max(size * 3 // 8, size - len(boiler))  # some article text whatever the boilerplate
    while total < target:
        para = " ".join(_sentence(rng, lang) for _ in range(rng.randint(2, 4)))
        if rng.random() < 0.3:
            cut = para.find(" ", len(para) // 2)
            if cut > 0:
                link = f"https://{domain}/{_slug(rng, lang)}"
                para = f'{para[:cut]} <a href="{link}">{_title(rng, lang)[:30]}</a>{para[cut:]}'
        paragraphs.append(f"<p>{para}</p>")
        total += len(paragraphs[-1])
    if rng.random() < 0.25:
        terms = rng.sample(TOPIC_TERMS[lang], 2)
        at = rng.randrange(len(paragraphs))
        sentence = _sentence(rng, lang).rstrip(".!?")
        glue = FUNCTION_WORDS[lang].split()[1]
        paragraphs[at] += f"<p>{sentence} {terms[0]} {glue} {terms[1]}.</p>"
    return template(rng, lang, site, domain, slug, title, "\n".join(paragraphs))


def _rss(
    site: str, domain: str, lang: str, items: Sequence[tuple[str, str, str, str, datetime, str]]
) -> bytes:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
        f"<title>{html.escape(site)}</title><link>https://{domain}/</link>"
        f"<description>{html.escape(site)} \u2013 news</description><language>{lang}</language>"
        f'<atom:link href="https://{domain}/feed/" rel="self" type="application/rss+xml"/>'
        f"<lastBuildDate>{LAST_MODIFIED}</lastBuildDate>"
    ]
    for title, link, guid, teaser, when, content in items:
        out.append(
            f"<item><title>{html.escape(title)}</title><link>{link}</link>"
            f'<guid isPermaLink="false">{guid}</guid>'
            f"<pubDate>{format_datetime(when, usegmt=True)}</pubDate>"
            f"<dc:creator><![CDATA[Redaktion {site}]]></dc:creator>"
            f"<category><![CDATA[{lang}]]></category>"
            f"<description>{html.escape(teaser)}</description>"
            f"<content:encoded><![CDATA[{content}]]></content:encoded></item>\n"
        )
    out.append("</channel></rss>\n")
    return "".join(out).encode("utf-8")


def _atom(
    site: str, domain: str, lang: str, items: Sequence[tuple[str, str, str, str, datetime, str]]
) -> bytes:
    out = [
        f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"'
        f' xml:lang="{lang}"><title>{html.escape(site)}</title>'
        f'<link href="https://{domain}/" rel="alternate"/>'
        f'<link href="https://{domain}/atom.xml" rel="self"/>'
        f"<id>tag:{domain},2024:feed</id><updated>{BASE_TIME.isoformat()}</updated>"
    ]
    for title, link, guid, teaser, when, content in items:
        out.append(
            f"<entry><title>{html.escape(title)}</title>"
            f'<link href="{link}" rel="alternate"/><id>tag:{domain},2024:{guid}</id>'
            f"<published>{when.isoformat()}</published><updated>{when.isoformat()}</updated>"
            f"<author><name>Redaktion {html.escape(site)}</name></author>"
            f'<summary type="html">{html.escape(teaser)}</summary>'
            f'<content type="html">{html.escape(content)}</content></entry>\n'
        )
    out.append("</feed>\n")
    return "".join(out).encode("utf-8")


def generate(
    feeds: int, entries: int, *, seed: int = 7, html_size: int = 2300, hosts: int = 16
) -> list[FeedDoc]:
    """N feeds x M entries, the same bytes for the same arguments."""
    rng = random.Random(f"{seed}:{feeds}:{entries}:{html_size}")
    langs = list(LANG_WEIGHTS)
    weights = list(LANG_WEIGHTS.values())
    site_words = SITE_WORDS.split()
    docs: list[FeedDoc] = []
    for i in range(feeds):
        lang = rng.choices(langs, weights)[0]
        template = TEMPLATES[i % len(TEMPLATES)]
        site = f"{rng.choice(site_words)} {rng.choice(CONTENT_WORDS[lang].split()).title()} {i}"
        domain = f"news{i}.example-{lang}.org"
        items = []
        for j in range(entries):
            title = _title(rng, lang)
            if rng.random() < 0.12:
                title = f"{title}: {rng.choice(TOPIC_TERMS[lang])}"
            slug = f"{_slug(rng, lang)}-{i}-{j}"
            link = f"https://{domain}/{slug}/{_utm(rng, slug)}"
            when = BASE_TIME - timedelta(minutes=37 * j + i)
            content = _entry_html(rng, lang, template, site, domain, slug, title, html_size)
            teaser = _sentence(rng, lang).replace("&amp;", "&")
            items.append((title, link, f"{domain}-{i}-{j}", teaser, when, content))
        atom = rng.random() < 0.4
        body = (_atom if atom else _rss)(site, domain, lang, items)
        docs.append(
            FeedDoc(
                host=i % hosts,
                path=f"/feeds/{i:05d}.{'atom' if atom else 'rss'}",
                body=body,
                content_type="application/atom+xml" if atom else "application/rss+xml",
                entries=entries,
                lang=lang,
            )
        )
    return docs


MAX_HOSTS = 250 * 256


def host_address(host: int) -> str:
    """127.0.0.1, 127.0.0.2, … 127.0.1.1, …: all loopback (127.0.0.0/8), each its own host."""
    if not 0 <= host < MAX_HOSTS:
        raise ValueError(f"host index {host} out of range")
    return f"127.0.{host // 250}.{host % 250 + 1}"


# ------------------------------------------------------------------ server


class _Doc:
    __slots__ = ("body", "content_type", "etag", "gzipped")

    def __init__(self, doc: FeedDoc) -> None:
        self.body = doc.body
        self.gzipped = gzip.compress(doc.body, compresslevel=6, mtime=0)
        self.content_type = doc.content_type
        self.etag = '"' + hashlib.sha1(doc.body).hexdigest()[:20] + '"'


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 drops SYNs under concurrency: 1 s retransmits

    def __init__(
        self, address: tuple[str, int], docs: dict[str, _Doc], counts: Counter[str]
    ) -> None:
        super().__init__(address, _Handler)
        self.docs = docs
        self.counts = counts
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers
    server: _Server

    def setup(self) -> None:
        super().setup()
        # No Nagle/delayed-ACK stalls between a response's writes.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def do_GET(self) -> None:
        if self.path == "/__stats":
            with self.server.lock:
                self._send_bytes(200, json.dumps(dict(self.server.counts)).encode(), "text/json")
            return
        if self.path == "/__reset":
            with self.server.lock:
                self.server.counts.clear()
            self._send_bytes(200, b"{}", "text/json")
            return
        doc = self.server.docs.get(self.path.split("?", 1)[0])
        if doc is None:
            self._count("404")
            self._send_bytes(404, b"not found\n", "text/plain")
            return
        if self._not_modified(doc):
            self._count("304")
            self.send_response(304)
            self.send_header("ETag", doc.etag)
            self.send_header("Last-Modified", LAST_MODIFIED)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self._count("200")
        accept = self.headers.get("Accept-Encoding", "")
        use_gzip = "gzip" in accept.lower()
        body = doc.gzipped if use_gzip else doc.body
        head = [
            "HTTP/1.1 200 OK",
            f"Server: {self.version_string()}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {doc.content_type}; charset=utf-8",
            f"ETag: {doc.etag}",
            f"Last-Modified: {LAST_MODIFIED}",
            "Vary: Accept-Encoding",
            *(["Content-Encoding: gzip"] if use_gzip else []),
            f"Content-Length: {len(body)}",
        ]
        # Headers and body in one write: one segment train, no Nagle wait between them.
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def _not_modified(self, doc: _Doc) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
            return doc.etag in tags or "*" in tags
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                return parsedate_to_datetime(ims) >= BASE_TIME
            except (TypeError, ValueError):
                return False
        return False

    def _count(self, key: str) -> None:
        with self.server.lock:
            self.server.counts[key] += 1

    def _send_bytes(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(docs: Sequence[FeedDoc], hosts: int, ready: Connection) -> None:
    """Serve docs until killed; sends [(address, port), …] (one per host) through `ready`.

    Meant as the target of a separate process, so serving does not share a GIL with whatever
    is measured. One selector accepts on every host's socket and each connection gets its own
    thread (ThreadingMixIn), so thousands of hosts cost no thousands of idle threads. All
    hosts share one counter, so /__stats on any of them covers all.
    """
    counts: Counter[str] = Counter()
    by_host: list[dict[str, _Doc]] = [{} for _ in range(hosts)]
    for doc in docs:
        by_host[doc.host][doc.path] = _Doc(doc)
    servers = [_Server((host_address(h), 0), by_host[h], counts) for h in range(hosts)]
    lock = threading.Lock()
    with selectors.DefaultSelector() as selector:
        for server in servers:
            server.lock = lock
            selector.register(server, selectors.EVENT_READ, server)
        ready.send([(host_address(h), servers[h].server_address[1]) for h in range(hosts)])
        ready.close()
        while True:
            for key, _ in selector.select(1.0):
                key.data._handle_request_noblock()
