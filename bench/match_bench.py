"""Benchmark: the one-pass topic matcher against one regex per topic.

    python bench/match_bench.py [--topics 1000] [--entries 10000] [--seed 7] [--budget 4]

Generates (deterministically) multilingual news-like entries of about 2.5 KB and topic queries
mixing words, phrases, wildcards, AND/OR/NOT and fields, then reports entries/s at 10, 100 and
`--topics` topics for both approaches, and how much the cost grows from 10 to `--topics` topics.
The baseline folds each entry once (in its favour) and then scans it with every topic's regex;
it is slow, so each of its runs stops after `--budget` seconds.
"""

from __future__ import annotations

import argparse
import bisect
import functools
import itertools
import random
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _feeds import FUNCTION_WORDS  # the same everyday words the feed generator writes

from syndicator.match import compile_topics, fold, parse_query
from syndicator.match.acronyms import HEADS
from syndicator.match.query import And, Node, Not, Or, Term
from syndicator.model import Topic

CONTENT_WORDS = {
    "de": "Regierung Bundeskanzler Verteidigungsminister Bündnis Sicherheit Abkommen Gipfel"
    " Wirtschaft Inflation Energiewende Klimaschutz Wahlkampf Ministerpräsident Außenpolitik"
    " Bundeswehr Ukraine Krieg Waffenstillstand Verhandlungen Sanktionen Haushalt Schuldenbremse"
    " Gesundheitsministerium Krankenhaus Bahnstreik Gewerkschaft Tarifverhandlungen Zölle"
    " Handelsabkommen Exporte Automobilindustrie Elektroauto Batteriefabrik Halbleiter"
    " Künstliche-Intelligenz Datenschutz Überwachung Grundgesetz Verfassungsgericht Bundestag"
    " Opposition Koalition Flüchtlinge Migrationspolitik Grenzkontrollen Straße Fußball"
    " Meisterschaft Indopazifik indopazifischen Verbindungsbüro NATO-Gipfel NATO-Staaten"
    " Ostsee Nordsee Hochwasser Dürre Waldbrand Überschwemmung Erdbeben Wärmepumpe Heizungsgesetz",
    "en": "government president minister alliance security agreement summit economy inflation"
    " election campaign parliament defence ceasefire negotiations sanctions budget deficit"
    " healthcare hospital strike union tariffs trade exports semiconductor chips artificial"
    " intelligence privacy surveillance constitution court senator senate opposition coalition"
    " refugees migration border football championship Indo-Pacific liaison office NATO's"
    " donation sanatorium wildfire flood drought earthquake heatwave pipeline sabotage cyberattack"
    " ransomware outage satellite launch vaccine pandemic startup layoffs merger acquisition",
    "fr": "gouvernement président ministre alliance sécurité accord sommet économie inflation"
    " élection campagne Assemblée défense cessez-le-feu négociations sanctions budget déficit"
    " santé hôpital grève syndicat tarifs commerce exportations semi-conducteurs intelligence"
    " artificielle surveillance Constitution Conseil opposition coalition réfugiés migration"
    " frontière football championnat Indo-Pacifique l\u2019OTAN d\u2019Europe sécheresse incendie"
    " inondation séisme canicule retraites réforme banlieue éducation laïcité agriculteurs",
    "es": "gobierno presidente ministro alianza seguridad acuerdo cumbre economía inflación"
    " elecciones campaña Congreso defensa negociaciones sanciones presupuesto sanidad hospital"
    " huelga sindicato aranceles comercio exportaciones inteligencia vigilancia Constitución"
    " oposición coalición refugiados migración frontera fútbol campeonato Indo-Pacífico OTAN"
    " sequía incendio inundación terremoto vivienda alquiler turismo",
    "it": "governo presidente ministro alleanza sicurezza accordo vertice economia inflazione"
    " elezioni campagna Parlamento difesa negoziati sanzioni bilancio sanità ospedale sciopero"
    " sindacato dazi commercio esportazioni intelligenza sorveglianza Costituzione opposizione"
    " coalizione rifugiati migrazione confine calcio campionato Indo-Pacifico Natoli Anatolia"
    " siccità incendio alluvione terremoto",
    "pl": "rząd prezydent minister sojusz bezpieczeństwo porozumienie szczyt gospodarka inflacja"
    " wybory kampania Sejm obrona negocjacje sankcje budżet zdrowie szpital strajk związek cła"
    " handel eksport sztuczna inteligencja inwigilacja Konstytucja opozycja koalicja uchodźcy"
    " migracja granica piłka mistrzostwa Indo-Pacyfik NATO susza pożar powódź trzęsienie",
}

SOURCES = [
    "heise online",
    "Tagesschau",
    "Le Monde",
    "El País",
    "Corriere della Sera",
    "Gazeta Wyborcza",
    "BBC News",
    "Der Standard",
    "NZZ",
    "Reuters",
]
ZIPF = 1.0
NAMES = 6000
SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "ten",
    "vor",
    "bel",
    "sun",
    "dar",
    "gri",
    "pol",
    "sta",
    "vik",
    "nor",
    "mel",
    "zan",
    "tro",
    "qui",
    "fel",
    "han",
]
DASHES = ["-", "-", "-", "-", "\u2011", "\u2013", "\u2010"]
SPACES = [" "] * 40 + ["\u00a0", "\u202f"]


def vocabulary(rng: random.Random) -> tuple[dict[str, list[str]], list[str]]:
    """Per-language content words plus invented proper names (news is full of them)."""
    names = sorted(
        {
            "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))).capitalize()
            for _ in range(NAMES)
        }
    )
    words = {lang: ws.split() + names for lang, ws in CONTENT_WORDS.items()}
    return words, names


def make_entry(
    rng: random.Random, words: dict[str, list[str]], target: int = 2500
) -> tuple[str, str, str]:
    """An entry in one language: Zipf-distributed words over a per-entry shuffled agenda."""
    lang = rng.choice(list(words))
    func = FUNCTION_WORDS[lang].split()
    order = words[lang][:]
    rng.shuffle(order)  # a different "news agenda" per entry
    cum = _zipf_cum(len(order))
    top = cum[-1]

    def content_word() -> str:
        return order[bisect.bisect(cum, rng.random() * top)]

    def word() -> str:
        if rng.random() < 0.45:
            return rng.choice(func)
        w = content_word()
        if rng.random() < 0.04 and len(w) > 8:
            cut = rng.randint(3, len(w) - 3)
            w = w[:cut] + "\u00ad" + w[cut:]  # soft hyphen, as CMSes insert them
        if rng.random() < 0.05:
            w = w + rng.choice(DASHES) + content_word()
        return w

    parts: list[str] = []
    size = 0
    while size < target:
        sentence = [word() for _ in range(rng.randint(6, 18))]
        sentence[0] = sentence[0][:1].upper() + sentence[0][1:]
        text = "".join(w + rng.choice(SPACES) for w in sentence).rstrip() + rng.choice(".!?.")
        parts.append(text)
        size += len(text) + 1
    title = " ".join(content_word() for _ in range(rng.randint(4, 9)))
    return title, " ".join(parts), rng.choice(SOURCES)


@functools.cache
def _zipf_cum(n: int) -> list[float]:
    return list(itertools.accumulate(1.0 / (i + 1) ** ZIPF for i in range(n)))


def make_query(rng: random.Random, words: dict[str, list[str]]) -> str:
    pool = [w for ws in words.values() for w in ws]
    stems = [w for ws in CONTENT_WORDS.values() for w in ws.split() if len(w) > 6 and w.isalpha()]

    def w() -> str:
        return rng.choice(pool)

    def prefix() -> str:  # like "Indopazifi*": a real word's stem, not a syllable or two
        word = rng.choice(stems)
        return word[: rng.randint(max(5, len(word) - 4), len(word) - 1)] + "*"

    shapes: list[Callable[[], str]] = [
        lambda: w(),
        lambda: f"{w()} {w()}",
        lambda: f"{w()} OR {w()} OR {w()}",
        lambda: f'"{w()} {w()}"',
        lambda: prefix(),
        lambda: f"{w()} AND NOT {w()}",
        lambda: f"{w()} -{w()}",
        lambda: f"title:{w()}",
        lambda: f'source:"{rng.choice(SOURCES)}" {w()}',
        lambda: f"({w()} OR {w()}) AND {prefix()}",
        lambda: f"{w()}-{w()}",
        lambda: f"content:({w()} OR {prefix()}) NOT title:{w()}",
    ]
    if rng.random() < 0.01:
        return f"NOT {w()}"
    return rng.choice(shapes)()


# ------------------------------------------------------------------ baseline


def _term_regex(t: Term) -> str:
    """The term's letters in order, starting and (unless a prefix) ending at a word's edge, with
    any separators between them; between two digits exactly where the query has one."""
    breaks = set(itertools.accumulate(len(w) for w in t.words[:-1]))
    letters = t.letters
    body = re.escape(letters[:1])
    for k in range(1, len(letters)):
        if letters[k - 1].isdigit() and letters[k].isdigit():
            body += r"[\W_]+" if k in breaks else ""
        else:
            body += r"[\W_]*"
        body += re.escape(letters[k])
    alternatives = [body]
    if t.acronym:
        alternatives.append(re.escape(letters) + f"(?:{'|'.join(sorted(HEADS))})")
    end = "" if t.prefix else r"(?![^\W_])"
    return rf"(?<![^\W_])(?:{'|'.join(alternatives)}){end}"


class NaiveTopic:
    """What one would write first: one regex per topic, scanned over every field."""

    def __init__(self, topic: Topic) -> None:
        self.name = topic.name
        self.query = parse_query(topic.query)
        self.terms = list(dict.fromkeys(self.query.terms))
        alts = [f"(?P<t{i}>{_term_regex(t)})" for i, t in enumerate(self.terms)]
        self.regex = re.compile("|".join(alts))

    def match(self, fields: dict[str, str]) -> bool:
        found: set[tuple[str, int]] = set()
        for field, text in fields.items():
            for m in self.regex.finditer(text):
                found.add((field, int(m.lastgroup[1:]) if m.lastgroup else -1))
        present = {t: any((f, i) in found for f in t.fields) for i, t in enumerate(self.terms)}
        return _truth(self.query.root, present)


def _truth(node: Node, present: dict[Term, bool]) -> bool:
    if isinstance(node, Term):
        return present[node]
    if isinstance(node, Not):
        return not _truth(node.operand, present)
    results = (_truth(op, present) for op in node.operands)
    return (
        all(results) if isinstance(node, And) else any(results) if isinstance(node, Or) else False
    )


# ------------------------------------------------------------------ runs


def run_matcher(
    topics: Sequence[Topic], entries: Sequence[tuple[str, str, str]]
) -> tuple[float, int, float]:
    """Entries/s, total hits, and the seconds `compile_topics` took."""
    start = time.perf_counter()
    matcher = compile_topics(topics)
    compiled = time.perf_counter() - start
    hits = 0
    start = time.perf_counter()
    for title, text, source in entries:
        hits += len(matcher.match(title, text, source))
    return len(entries) / (time.perf_counter() - start), hits, compiled


def run_baseline(
    topics: Sequence[Topic], entries: Sequence[tuple[str, str, str]], budget: float
) -> tuple[float, list[list[str]]]:
    """Entries/s and each processed entry's matching topic names; stops after `budget` s."""
    naive = [NaiveTopic(t) for t in topics]
    results: list[list[str]] = []
    start = time.perf_counter()
    for title, text, source in entries:
        fields = {"title": fold(title), "content": fold(text), "source": fold(source)}
        results.append([n.name for n in naive if n.match(fields)])
        if time.perf_counter() - start > budget:
            break
    return len(results) / (time.perf_counter() - start), results


def disagreements(
    topics: Sequence[Topic], entries: Sequence[tuple[str, str, str]], expected: list[list[str]]
) -> int:
    matcher = compile_topics(topics)
    return sum(
        [h.topic for h in matcher.match(*entry)] != names
        for entry, names in zip(entries, expected, strict=False)
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--budget", type=float, default=4.0, help="seconds per baseline run")
    args = ap.parse_args(argv)

    rng = random.Random(args.seed)
    words, _ = vocabulary(rng)
    t0 = time.perf_counter()
    entries = [make_entry(rng, words) for _ in range(args.entries)]
    topics = [Topic(f"topic{i}", make_query(rng, words)) for i in range(args.topics)]
    mean = sum(len(e[1]) for e in entries) / len(entries)
    print(
        f"generated {len(entries)} entries (mean text {mean:.0f} chars) and {len(topics)} topics"
        f" in {time.perf_counter() - t0:.1f}s; e.g. {topics[3].query!r}, {topics[9].query!r}"
    )

    counts = sorted({n for n in (10, 100, args.topics) if n <= args.topics})
    fast: dict[int, float] = {}
    slow: dict[int, float] = {}
    print(
        f"{'topics':>7} {'compile':>8} {'matcher e/s':>12} {'hits/entry':>10}"
        f" {'baseline e/s':>13} {'(entries)':>9} {'speedup':>8} {'differ':>6}"
    )
    for n in counts:
        rate, hits, compiled = run_matcher(topics[:n], entries)
        brate, expected = run_baseline(topics[:n], entries, args.budget)
        differ = disagreements(topics[:n], entries, expected)
        fast[n], slow[n] = rate, brate
        print(
            f"{n:>7} {compiled * 1000:>6.0f}ms {rate:>12,.0f} {hits / len(entries):>10.1f}"
            f" {brate:>13,.0f} {len(expected):>9} {rate / brate:>7.0f}x {differ:>6}"
        )
    lo, hi = counts[0], counts[-1]
    print(
        f"cost ratio {hi} vs {lo} topics: matcher {fast[lo] / fast[hi]:.2f}x,"
        f" baseline {slow[lo] / slow[hi]:.1f}x (topic count grew {hi / lo:.0f}x)"
    )
    goal = "met" if fast[hi] >= 2000 else "NOT met"
    print(f"goal >= 2,000 entries/s with {hi} topics: {goal}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
