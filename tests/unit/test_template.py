"""Each source's learned template (syndicator/template.py), in process: the decision and its
guards, the cleaner's and the analyser's use of it, and a cluster worker learning and applying
it, on a feed whose junk line is Finnish (no rule file knows Finnish). The memory in both
stores is tests/unit/test_store_template.py; `run --once`, `clean --explain --source` and
`reclean` are tests/system/test_template.py."""

from __future__ import annotations

import html
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from syndicator import template
from syndicator.analyse import learn_from, with_template
from syndicator.clean import clean_entry, load_rules
from syndicator.model import CleanEntry, ParsedEntry
from syndicator.template import MIN_HISTORY, WINDOW, Learned, Template, block_key, learn
from tests.conftest import FeedServer, write_config

RULES = load_rules()

# Finnish: "Read more news in the Yle app (12 comments)". No rule file has Finnish.
JUNK = "Lue lisää uutisia Yle-sovelluksesta ({n} kommenttia)"

ARTICLES = [
    "Helsingin kaupunginvaltuusto hyväksyi uuden pyöräilystrategian keskiviikkona.",
    "Tampereen raitiotien jatko-osan rakentaminen alkaa ensi keväänä Lielahdessa.",
    "Oulun yliopiston tutkijat löysivät uuden bakteerilajin Perämeren pohjasta.",
    "Turun saariston lauttaliikenteeseen tulee kaksi uutta sähkölauttaa.",
    "Lapin matkailuyritykset odottavat ennätyksellistä joulusesonkia tänä vuonna.",
    "Jyväskylän kesäfestivaali keräsi yli viisikymmentätuhatta kävijää.",
    "Kuopion satamaan rakennetaan uusi kävelysilta kaupungin keskustaan.",
    "Vaasan tuulivoimapuisto aloittaa sähköntuotannon tammikuussa.",
    "Porin jazzfestivaalin pääesiintyjät julkistettiin tänään aamulla.",
    "Lahden hiihtostadionin katsomo remontoidaan ennen MM-kisoja.",
    "Rovaniemen lentoaseman matkustajamäärät kasvoivat syksyn aikana.",
    "Joensuun kirjasto laajentaa aukioloaikojaan helmikuusta alkaen.",
]


def entry_html(i: int, junk: str = JUNK) -> str:
    return (
        f"<p>{ARTICLES[i]} Päätös syntyi pitkän keskustelun jälkeen numero {i}.</p>"
        f"<p>{junk.format(n=i * 3)}</p>"
    )


def parsed(i: int, junk: str = JUNK) -> ParsedEntry:
    return ParsedEntry(
        key=f"k{i}", title=f"Uutinen {i}", link=f"https://yle.example/{i}", html=entry_html(i, junk)
    )


def cleaned(i: int) -> CleanEntry:
    return clean_entry(parsed(i), RULES, explain=False)


# -- the decision (pure) ------------------------------------------------------------------


def test_counters_dates_and_case_are_folded() -> None:
    assert block_key("Kommentar (0)") == block_key("KOMMENTAR (12)")
    assert block_key("Päivitetty 30.11.2026 klo 18.04") == block_key("päivitetty 1.1.2027 klo 9.00")
    assert block_key("2:1") is None  # no letter: never template


def test_a_block_in_most_recent_entries_is_learned_with_its_counts() -> None:
    history = [(f"own line {i}", "read in app") for i in range(10)]
    found = learn(history)
    assert [b.key for b in found.blocks] == ["read in app"]
    assert found.blocks[0].rule == "source-template (seen in 10 of 10 entries)"
    # In half of them only: not "most", so not template.
    half = [("read in app",) if i % 2 else (f"x {i}",) for i in range(10)]
    assert not learn(half)


def test_guard_nothing_is_learned_before_enough_history() -> None:
    few = [("read in app",)] * (MIN_HISTORY - 1)
    assert not learn(few)
    assert learn([*few, ("read in app",)])


def test_guard_an_article_sized_block_is_never_a_candidate() -> None:
    paragraph = " ".join(["sana"] * (template.MAX_WORDS + 1))
    assert block_key(paragraph) is None
    assert block_key(" ".join(["sana"] * template.MAX_WORDS)) is not None
    # Even when every entry repeats it, it is not learned (the cleaner never keys it).
    cleans = [
        clean_entry(
            ParsedEntry(f"k{i}", "t", "https://e/x", f"<p>{ARTICLES[i]}</p><p>{paragraph}.</p>"),
            RULES,
            explain=False,
        )
        for i in range(10)
    ]
    assert not learn_from((), [(f"k{i}", c.blocks) for i, c in enumerate(cleans)])


def test_the_memory_keeps_each_entry_once_newest_first_and_at_most_a_window() -> None:
    stored = [(f"s{i}", ("old",)) for i in range(WINDOW)]
    merged = template.merge_history(stored, [("s0", ("new",)), ("n1", ("new",))])
    assert merged[:2] == [("new",), ("new",)] and len(merged) == WINDOW
    assert ("old",) in merged


@given(st.text(max_size=400))
def test_folding_is_idempotent_for_any_text(text: str) -> None:
    key = block_key(text)
    if key is not None:
        assert block_key(key) == key


# -- the cleaner ----------------------------------------------------------------------------


def test_the_cleaner_removes_learned_blocks_in_a_language_without_rules() -> None:
    cleans = [cleaned(i) for i in range(10)]
    assert all("Lue lisää" in c.text for c in cleans)  # no rule knows it
    learned = learn_from((), [(f"k{i}", c.blocks) for i, c in enumerate(cleans)])
    assert len(learned.blocks) == 1
    again = with_template(parsed(3), cleans[3], RULES, learned, explain=True)
    assert "Lue lisää" not in again.text and "Lue lisää" not in again.html
    assert ARTICLES[3] in again.text
    assert [r.rule for r in again.removals] == ["source-template (seen in 10 of 10 entries)"]
    assert again.blocks == cleans[3].blocks  # what the memory counts is taken before


def test_guard_no_entry_is_ever_emptied() -> None:
    only = ParsedEntry("k", "t", "https://e/x", f"<p>{JUNK.format(n=1)}</p>")
    first = clean_entry(only, RULES, explain=False)
    key = first.blocks[0]
    learned = Template((Learned(key, 10, 10),), 10)
    kept = clean_entry(only, RULES, explain=True, template=learned)
    assert kept.text == first.text and kept.html == first.html
    assert not kept.removals


def test_without_a_template_the_cleaner_writes_what_it_wrote() -> None:
    for i in range(5):
        plain = clean_entry(parsed(i), RULES)
        assert clean_entry(parsed(i), RULES, template=template.NOTHING) == plain


@given(st.lists(st.text(min_size=1, max_size=60), min_size=1, max_size=6))
def test_guard_no_body_is_emptied_whatever_its_lines(lines: list[str]) -> None:
    """Every block of the entry is template: the cleaner keeps them all, whatever the text."""
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    entry = ParsedEntry("k", "t", "https://e/x", body)
    first = clean_entry(entry, RULES, explain=False)
    everything = Template(tuple(Learned(key, 9, 9) for key in first.blocks), 9)
    again = clean_entry(entry, RULES, explain=False, template=everything)
    if first.text.strip():
        assert again.text.strip()


# -- the analyser and a cluster worker, in process -------------------------------------------------


def feed(items: range, junk: str = JUNK) -> bytes:
    parts = [
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Yle</title>'
        "<link>http://yle.example/</link><description>d</description>"
    ]
    for i in items:
        parts.append(
            f"<item><title>Uutinen {i}</title><link>http://yle.example/{i}</link>"
            f"<guid>yle-{i}</guid><description>{html.escape(entry_html(i, junk))}</description>"
            "</item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def _config(tmp_path: Path, url: str, extra: str = "") -> Path:
    return write_config(
        tmp_path,
        f'[[sources]]\nname = "yle"\nurl = "{url}"\n{extra}\n'
        '[[topics]]\nname = "tampere"\nquery = "Tampereen"\n',
    )


def test_a_cluster_worker_learns_and_applies_the_template_too(
    tmp_path: Path, feed_server: FeedServer, postgres_url: str
) -> None:
    """The cluster's worker (cluster.WorkerPipeline, what a Celery task runs) polls through
    the same pipeline code: it reads the memory from the shared store and fills it."""
    from syndicator.cluster import WorkerPipeline
    from syndicator.config import load_config
    from syndicator.store import open_store
    from tests.conftest import Route

    feed_server.routes["/yle.rss"] = Route(feed(range(10)))
    config_path = _config(tmp_path, feed_server.base + "/yle.rss")
    text = config_path.read_text().replace('"state/s.sqlite"', f'"{postgres_url}"')
    config_path.write_text(text)
    config = load_config(config_path)
    store = open_store(config)
    try:
        worker = WorkerPipeline(config, store)  # type: ignore[arg-type]
        report = worker.poll_sources(["yle"])
        assert report.polled == 1 and not report.failed, report
        stored = store.feed_entries(None, 20)
        assert len(stored) == 10
        assert all("Lue lisää" not in e.text and "Lue lisää" not in e.html for e in stored)
        assert len(store.template_history("yle")) == 10
        worker.close()
    finally:
        store.close()


def test_a_poll_applies_what_the_memory_taught_before_it(tmp_path: Path) -> None:
    """A later poll of two entries: too few to learn from, but the stored memory knows the
    template (the path where entries are cleaned with it once, not twice)."""
    from syndicator.analyse import Analyser, Job
    from syndicator.config import load_config

    config = load_config(_config(tmp_path, "http://127.0.0.1:9/yle.rss"))
    history = tuple((f"k{i}", cleaned(i).blocks) for i in range(2, 12))
    job = Job("yle", feed(range(2)), "http://127.0.0.1:9/yle.rss", {}, {}, history)
    analysis = Analyser(config).analyse(job)
    assert analysis.error is None and len(analysis.entries) == 2
    for entry in analysis.entries:
        assert "Lue lisää" not in entry.clean.text and "numero" in entry.clean.text
        assert any(key.startswith("lue lisää") for key in entry.clean.blocks)
    alone = Analyser(config).analyse(job._replace(history=()))
    assert all("Lue lisää" in e.clean.text for e in alone.entries)  # 2 entries teach nothing


def test_a_template_applied_to_the_first_clean_is_the_template_applied_to_the_raw_body() -> None:
    """with_template cleans the first clean's body again when only more blocks go (cheaper);
    on every real feed, with a junk line added to each entry so that a template is learned,
    that gives what cleaning the raw body with the template gives."""
    from syndicator.errors import ParseError
    from syndicator.parse import parse_feed
    from tests.conftest import DATA

    rules = load_rules()
    checked = 0
    for path in sorted((DATA / "real").iterdir()):
        try:
            feed = parse_feed(path.read_bytes(), "https://feed.example/", {})
        except ParseError:  # not every file there is a feed
            continue
        entries = [
            ParsedEntry(e.key, e.title, e.link, e.html + "<p>Kommentare: 5 · Teilen · Merken</p>")
            for e in feed.entries
        ]
        firsts = [clean_entry(p, rules, explain=False) for p in entries]
        learned = learn_from((), [(p.key, c.blocks) for p, c in zip(entries, firsts, strict=True)])
        for parsed, first in zip(entries, firsts, strict=True):
            cheap = with_template(parsed, first, rules, learned)
            full = clean_entry(parsed, rules, explain=False, template=learned)
            assert (cheap.html, cheap.text, cheap.title, cheap.link) == (
                full.html,
                full.text,
                full.title,
                full.link,
            ), parsed.key
            checked += cheap is not first
    assert checked > 100  # the template was learned and applied on many entries
