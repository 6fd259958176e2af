"""A labelled corpus for "are these two entries one story?", built from real feed texts.

Every item carries the story it tells (`story`): two items are one story exactly when their
labels are equal. The corpus has
- the entries of real feeds (tests/data/real, ../shared/corpus/real and any directory given),
  cleaned as the daemon cleans them; entries of two files with the same link and title (one
  feed fetched as RSS and as Atom) are one story, every other pair is two;
- syndicated copies of real entries, as other sources publish them: a "(dpa)" title prefix, a
  different link, a credit line added, a word changed, or all of these at once;
- stories cast from one template that report different events (insider sales, match results,
  weather, podcast episodes): the hard negatives;
- distinct articles made of real sentences, thousands of them.

Used by bench/dedupe_eval.py and, at a smaller size, by the test suite.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REAL_DIRS = (ROOT / "tests" / "data" / "real", ROOT.parent / "shared" / "corpus" / "real")
BASE_TIME = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Item:
    source: str
    key: str
    title: str
    link: str
    text: str
    published: datetime
    story: str  # the label: equal labels, one story
    kind: str  # real, copy:<variant>, template:<family>, article


def real_items(dirs: Sequence[Path] = REAL_DIRS) -> list[Item]:
    """Every entry of every feed file found, parsed and cleaned by Syndicator itself."""
    from syndicator.clean import clean_entry, load_rules
    from syndicator.errors import ParseError
    from syndicator.parse import parse_feed
    from syndicator.stories import link_key

    rules = load_rules()
    seen: set[str] = set()
    items = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.name in seen or not path.is_file():
                continue
            seen.add(path.name)
            try:
                feed = parse_feed(path.read_bytes(), path.resolve().as_uri(), {})
            except ParseError:
                continue
            for n, entry in enumerate(feed.entries):
                clean = clean_entry(entry, rules, explain=False)
                link = link_key(clean.link)
                title = " ".join(clean.title.casefold().split())
                story = f"real:{link}|{title}" if link and title else f"real:{path.name}:{n}"
                when = entry.published or entry.updated or BASE_TIME
                items.append(
                    Item(path.name, entry.key, clean.title, clean.link, clean.text,
                         when, story, "real")
                )
    return items


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÀ-ÖØ-Þ\"„“])")
_WORD = re.compile(r"\w+")


def sentence_pool(items: Iterable[Item]) -> list[str]:
    """Distinct sentences of 6 to 40 words from the items' texts."""
    pool: dict[str, None] = {}
    for item in items:
        for sentence in _SENTENCE.split(item.text):
            sentence = " ".join(sentence.split())
            words = len(_WORD.findall(sentence))
            if 6 <= words <= 40 and sentence[-1:] in ".!?":
                pool.setdefault(sentence)
    return list(pool)


def articles(pool: Sequence[str], count: int, rng: random.Random, sources: int = 20) -> list[Item]:
    """`count` different articles of 4 to 10 random real sentences each, spread over sources
    and over two days of publication."""
    out = []
    for n in range(count):
        sentences = rng.sample(pool, rng.randint(4, 10))
        words = sentences[0].rstrip(".!?").split()
        title = " ".join(words[: rng.randint(5, 10)])
        source = f"articles-{n % sources:02d}"
        out.append(
            Item(
                source=source,
                key=f"article-{n}",
                title=title,
                link=f"https://{source}.example/{n:06d}/story.html",
                text=" ".join(sentences),
                published=BASE_TIME + timedelta(seconds=rng.randrange(2 * 86400)),
                story=f"article:{n}",
                kind="article",
            )
        )
    return out


CREDITS = ("Foto: dpa", "Quelle: Reuters", "(AFP)", "Copyright 2026 The Associated Press.",
           "Mit Material von dpa und AFP.", "This story was first reported by Reuters.")
PREFIXES = ("(dpa) ", "Exclusive: ", "AFP: ", "UPDATE - ", "Eilmeldung: ")


def _change_a_word(text: str, rng: random.Random) -> str | None:
    """One lowercase word inside a sentence replaced by another word of the same text: an
    editor's change, not a changed fact."""
    matches = [m for m in re.finditer(r"(?<=[a-zà-ÿ,;] )[a-zà-ÿ]{4,}\b", text)]
    if len(matches) < 2:
        return None
    target = rng.choice(matches)
    others = [m.group() for m in matches if m.group() != target.group()]
    if not others:
        return None
    return text[: target.start()] + rng.choice(others) + text[target.end() :]


def copies(originals: Sequence[Item], rng: random.Random) -> list[Item]:
    """For each original, one copy in another source: a prefix, a link, a credit line, a
    changed word, or all at once, published up to a day later."""
    variants = ("prefix", "link", "credit", "word", "all")
    out = []
    for n, item in enumerate(originals):
        variant = variants[n % len(variants)]
        title, text = item.title, item.text
        link = f"https://syndication{n % 7}.example/{n:06d}"
        if variant in ("prefix", "all"):
            title = rng.choice(PREFIXES) + title
        if variant in ("credit", "all"):
            text = f"{text} {rng.choice(CREDITS)}"
        if variant in ("word", "all"):
            changed = _change_a_word(text, rng)
            if changed is None:
                continue
            text = changed
        if variant == "link":  # the same article as another site lists it
            title = title.upper() if rng.random() < 0.5 else title
        out.append(
            replace(
                item,
                source=f"syndication-{n % 7}",
                key=f"copy-{n}",
                title=title,
                link=link,
                text=text,
                published=item.published + timedelta(seconds=rng.randrange(86400)),
                kind=f"copy:{variant}",
            )
        )
    return out


FIRST = re.findall(r"\w+", "Anna Peter Maria Thomas Laura Jonas Sofia Lukas Emma Felix Olivia")
LAST = re.findall(r"\w+", "Schmidt Meyer Weber Wagner Becker Schulz Hoffmann Koch Richter Klein")
COMPANIES = re.findall(r"\w+", "Acme Globex Initech Umbrella Stark Wayne Hooli Vandelay Wonka")
CITIES = re.findall(r"\w+", "Berlin Hamburg München Köln Frankfurt Stuttgart Dresden Leipzig")
TEAMS = re.findall(r"\w+", "Eintracht Borussia Fortuna Hertha Union Werder Arminia Viktoria")
CONDITIONS = ("sunny", "cloudy", "rainy", "foggy", "windy", "snowy", "stormy", "mild")


def _insider(rng: random.Random) -> tuple[str, str]:
    person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    company = rng.choice(COMPANIES)
    shares = rng.randrange(1000, 90000)
    price = rng.randrange(1000, 30000) / 100
    title = f"Insider sale: {person} sells {company} shares"
    text = (
        f"{person}, a director of {company}, sold {shares:,} shares of the company in a "
        f"transaction on November {rng.randint(1, 28)}. The shares were sold at an average "
        f"price of ${price:.2f}, for a total value of ${shares * price:,.0f}. Following the "
        f"transaction, the director now directly owns {rng.randrange(10000, 900000):,} shares "
        "of the company. The sale was disclosed in a filing with the Securities and Exchange "
        "Commission, which is available through the SEC website. Insiders have sold shares of "
        "the company over the last quarter, according to the filings."
    )
    return title, text


def _match(rng: random.Random) -> tuple[str, str]:
    home, away = rng.sample(TEAMS, 2)
    a, b = rng.randint(0, 5), rng.randint(0, 5)
    title = f"{home} {a}:{b} {away}"
    text = (
        f"{home} und {away} trennten sich am {rng.randint(1, 28)}. Spieltag vor "
        f"{rng.randrange(8000, 60000):,} "
        f"Zuschauern mit {a}:{b}. Die Gastgeber begannen druckvoll und erspielten sich in der "
        "ersten Halbzeit mehrere Chancen, doch die Abwehr der Gäste stand sicher. Nach der "
        "Pause wurde die Partie offener, beide Mannschaften suchten den Weg nach vorne. Der "
        "Trainer zeigte sich nach dem Spiel mit der Leistung seiner Mannschaft zufrieden und "
        "lobte die Moral des Teams. In der Tabelle bleibt es damit spannend."
    )
    return title, text


def _weather(rng: random.Random, day: int, same_numbers: bool) -> tuple[str, str]:
    """A city's daily report, dated as weather services date them; `same_numbers`: every
    city's report of the day says the same, only the city differs."""
    city = CITIES[day % len(CITIES)] if same_numbers else rng.choice(CITIES)
    high, low = (14, 6) if same_numbers else (rng.randint(-5, 30), rng.randint(-15, 10))
    condition = "cloudy" if same_numbers else rng.choice(CONDITIONS)
    date = f"November {1 + day // len(CITIES) % 28}"
    title = f"Weather for {city}"
    text = (
        f"The weather in {city} on {date} will be {condition}, with a high of {high} degrees and a "
        f"low of {low} degrees overnight. Winds will come from the west at moderate speeds, and "
        "the chance of rain stays low through the afternoon. Tomorrow looks similar, with "
        "temperatures close to the seasonal average and a little more sunshine in the morning. "
        "Residents are advised to check the forecast again before making plans for the weekend."
    )
    return title, text


def _episode(rng: random.Random, n: int) -> tuple[str, str]:
    guest = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    topic = rng.choice(("compilers", "databases", "typography", "gardening", "chess", "radio"))
    title = f"Episode {n}: {guest} on {topic}"
    text = (
        f"This week {guest} joins the show to talk about {topic}. "
        "This episode is sponsored by Example Mattress: get ten percent off your first order "
        "with the code PODCAST at checkout. Support the show by becoming a member, which gets "
        "you an ad-free feed, bonus episodes and our eternal gratitude. Follow us on Mastodon "
        "and send your questions to the mailbag; we read every one of them and answer a few "
        "on the show each week. Our theme music is by a friend of the show."
    )
    return title, text


def templated(count: int, rng: random.Random) -> list[Item]:
    """`count` stories cast from five templates, each a different event."""
    out = []
    for n in range(count):
        family = ("insider", "match", "weather", "weather-same-numbers", "episode")[n % 5]
        if family == "insider":
            title, text = _insider(rng)
        elif family == "match":
            title, text = _match(rng)
        elif family == "episode":
            title, text = _episode(rng, 100 + n)
        else:
            title, text = _weather(rng, n // 5, family == "weather-same-numbers")
        source = f"wire-{family}"
        out.append(
            Item(
                source=source,
                key=f"{family}-{n}",
                title=title,
                link=f"https://{source}.example/{n:06d}",
                text=text,
                published=BASE_TIME + timedelta(seconds=rng.randrange(2 * 86400)),
                story=f"template:{n}",
                kind=f"template:{family}",
            )
        )
    # Two events told in the same words are one story only by accident of the generator:
    # label them as the same, so the corpus asks nothing impossible of the rule.
    first: dict[tuple[str, str], str] = {}
    return [
        replace(item, story=first.setdefault((item.title, item.text), item.story))
        for item in out
    ]


def replace_time(item: Item, when: datetime) -> Item:
    return replace(item, published=when)


def rename(item: Item, key: str) -> Item:
    return replace(item, key=key, story=f"{item.kind}:{key}", link=f"{item.link}?{key}")
