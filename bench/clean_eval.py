"""Score the boilerplate cleaner against the labelled corpus in tests/data/boilerplate/.

    .venv/bin/python bench/clean_eval.py [--corpus DIR] [--verbose] [--seconds S]

For every case the entry is cleaned with `syndicator.clean.clean_entry(entry, load_rules())`, then
  * every `keep` string must occur in the cleaned plain text (NFC, whitespace runs collapsed), and
  * no `drop` string may occur in the cleaned text, the cleaned HTML or the cleaned link.
The raw input (text from BeautifulSoup's get_text, HTML and link untouched) is scored the same way
as a baseline, so the improvement is visible. This is a report: the exit status is always 0.
"""

from __future__ import annotations

import argparse
import contextlib
import html as htmllib
import importlib
import statistics
import sys
import time
import tomllib
import unicodedata
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

from syndicator.model import ParsedEntry  # noqa: E402

DEFAULT_CORPUS = ROOT / "tests" / "data" / "boilerplate"
KEEP_GOAL = 1.0
DROP_GOAL = 0.98
REQUIRED = ("style", "origin", "link", "title", "html", "keep", "drop")


@dataclass(frozen=True)
class Case:
    name: str
    style: str
    origin: str
    link: str
    title: str
    html: str
    keep: tuple[str, ...]
    drop: tuple[str, ...]

    def entry(self) -> ParsedEntry:
        return ParsedEntry(key=self.name, title=self.title, link=self.link, html=self.html)


@dataclass(frozen=True)
class Output:
    """What a cleaner (or the no-op baseline) made of one entry."""

    text: str
    html: str
    link: str


@dataclass
class Score:
    keep_total: int = 0
    keep_hit: int = 0
    drop_total: int = 0
    drop_gone: int = 0
    errors: int = 0
    missed: list[tuple[str, str]] = field(default_factory=list)  # (case, keep string)
    survived: list[tuple[str, str, str]] = field(default_factory=list)  # (case, drop, where)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (case, exception)

    def add(self, other: Score) -> None:
        self.keep_total += other.keep_total
        self.keep_hit += other.keep_hit
        self.drop_total += other.drop_total
        self.drop_gone += other.drop_gone
        self.errors += other.errors
        self.missed += other.missed
        self.survived += other.survived
        self.failures += other.failures

    @property
    def keep_share(self) -> float:
        return self.keep_hit / self.keep_total if self.keep_total else 1.0

    @property
    def drop_share(self) -> float:
        return self.drop_gone / self.drop_total if self.drop_total else 1.0


Cleaner = Callable[[ParsedEntry], Output]


def norm(text: str) -> str:
    """The comparison form: NFC, every whitespace run (NBSP included) collapsed to one space."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def html_text(markup: str) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bs4 warns when a plain-text body looks like a URL
        return BeautifulSoup(markup, "lxml").get_text()


def load_cases(corpus: Path) -> list[Case]:
    cases = []
    for path in sorted(corpus.glob("*.toml")):
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
        missing = [key for key in REQUIRED if key not in data]
        if missing:
            raise SystemExit(f"{path}: missing keys {missing}")
        cases.append(
            Case(
                name=path.name,
                style=str(data["style"]),
                origin=str(data["origin"]),
                link=str(data["link"]),
                title=str(data["title"]),
                html=str(data["html"]),
                keep=tuple(str(s) for s in data["keep"]),
                drop=tuple(str(s) for s in data["drop"]),
            )
        )
    return cases


def baseline(entry: ParsedEntry) -> Output:
    return Output(text=html_text(entry.html), html=entry.html, link=entry.link)


def load_cleaner() -> Cleaner | str:
    """The real cleaner, or the reason it cannot be used yet."""
    try:
        module: Any = importlib.import_module("syndicator.clean")
        rules = module.load_rules()
        clean_entry = module.clean_entry
    except Exception as exc:  # not written yet, or broken: report it, do not crash the report
        return f"{type(exc).__name__}: {exc}"

    def run(entry: ParsedEntry) -> Output:
        cleaned = clean_entry(entry, rules)
        return Output(text=str(cleaned.text), html=str(cleaned.html), link=str(cleaned.link))

    return run


def score_case(case: Case, run: Cleaner) -> Score:
    score = Score(keep_total=len(case.keep), drop_total=len(case.drop))
    try:
        out = run(case.entry())
    except Exception as exc:  # a crash keeps nothing and removes nothing
        score.errors = 1
        score.failures.append((case.name, f"{type(exc).__name__}: {exc}"))
        score.missed += [(case.name, k) for k in case.keep]
        score.survived += [(case.name, d, "exception") for d in case.drop]
        return score
    text = norm(out.text)
    markup = norm(out.html)
    places = {
        "text": (text,),
        "html": (markup, norm(htmllib.unescape(markup))),  # a href keeps its &amp; escaped
        "link": (out.link,),
    }
    for keep in case.keep:
        if norm(keep) in text:
            score.keep_hit += 1
        else:
            score.missed.append((case.name, keep))
    for drop in case.drop:
        needle = norm(drop)
        where = [name for name, hays in places.items() if any(needle in h for h in hays)]
        if where:
            score.survived.append((case.name, drop, ", ".join(where)))
        else:
            score.drop_gone += 1
    return score


def score_all(cases: Sequence[Case], run: Cleaner) -> tuple[Score, dict[str, Score]]:
    total = Score()
    by_style: dict[str, Score] = {}
    for case in cases:
        s = score_case(case, run)
        total.add(s)
        by_style.setdefault(case.style, Score()).add(s)
    return total, by_style


def measure_speed(cases: Sequence[Case], run: Cleaner, seconds: float) -> float:
    """Entries per second: clean the whole corpus repeatedly for ~`seconds`, median of 3 runs."""
    entries = [c.entry() for c in cases]
    rates = []
    for _ in range(3):
        done = 0
        start = time.perf_counter()
        elapsed = 0.0
        while elapsed < seconds or done == 0:
            for entry in entries:
                with contextlib.suppress(Exception):  # crashes are counted in the scores
                    run(entry)
            done += len(entries)
            elapsed = time.perf_counter() - start
        rates.append(done / elapsed)
    return statistics.median(rates)


def pct(part: int, whole: int) -> str:
    if not whole:
        return f"{'0/0':>9}       -"
    return f"{part:>4}/{whole:<4} {100 * part / whole:6.1f}%"


def report(
    cases: Sequence[Case], corpus: Path, verbose: bool, seconds: float, out: Callable[[str], None]
) -> None:
    styles = sorted({c.style for c in cases})
    n_keep = sum(len(c.keep) for c in cases)
    n_drop = sum(len(c.drop) for c in cases)
    n_real = sum(c.origin.startswith("tests/data/real/") for c in cases)
    out(f"Boilerplate corpus {corpus}")
    out(
        f"  {len(cases)} cases ({n_real} from real feeds), {len(styles)} styles, "
        f"{n_keep} must-stay strings, {n_drop} boilerplate strings"
    )
    base_total, base_styles = score_all(cases, baseline)
    loaded = load_cleaner()
    cleaner: Cleaner | None = None if isinstance(loaded, str) else loaded
    if cleaner is not None:
        total, by_style = score_all(cases, cleaner)
    else:
        total, by_style = Score(), {}

    out("")
    out(f"  {'':<22} {'must-stay kept':>17}   {'boilerplate removed':>19}")
    out(
        f"  {'baseline (raw input)':<22} {pct(base_total.keep_hit, base_total.keep_total):>17}   "
        f"{pct(base_total.drop_gone, base_total.drop_total):>19}"
    )
    if cleaner is None:
        out(f"  {'cleaner':<22} not importable: {loaded}")
    else:
        out(
            f"  {'cleaner':<22} {pct(total.keep_hit, total.keep_total):>17}   "
            f"{pct(total.drop_gone, total.drop_total):>19}"
        )
        if total.errors:
            out(f"  cleaner raised on {total.errors} case(s)")

    out("")
    out(f"  {'style':<16}{'cases':>6}   {'kept':>16}   {'removed':>16}   {'baseline removed':>16}")
    for style in styles:
        n = sum(c.style == style for c in cases)
        b = base_styles[style]
        if cleaner is not None:
            s = by_style[style]
            kept, removed = pct(s.keep_hit, s.keep_total), pct(s.drop_gone, s.drop_total)
        else:
            kept = removed = "-"
        base = pct(b.drop_gone, b.drop_total)
        out(f"  {style:<16}{n:>6}   {kept:>16}   {removed:>16}   {base:>16}")

    if cleaner is not None and seconds > 0:
        rate = measure_speed(cases, cleaner, seconds)
        out("")
        out(
            f"  speed: {rate:,.0f} entries/s ({1000 / rate:.2f} ms/entry; median of 3 runs "
            f"of ~{seconds:g} s over the corpus)"
        )

    if verbose and cleaner is not None:
        out("")
        for name, err in total.failures:
            out(f"  ERROR      {name}: {err}")
        for name, keep in total.missed:
            out(f"  MISSED     {name}: {keep!r}")
        for name, drop, where in total.survived:
            out(f"  SURVIVED   {name}: {drop!r} (in {where})")
        if not (total.failures or total.missed or total.survived):
            out("  nothing missed, nothing survived")

    out("")
    if cleaner is None:
        out("GOAL NOT MET: cleaner not available (syndicator.clean)")
        return
    keep_ok = total.keep_share >= KEEP_GOAL
    drop_ok = total.drop_share >= DROP_GOAL
    out(
        f"{'GOAL MET' if keep_ok else 'GOAL NOT MET'}: must-stay kept "
        f"{100 * total.keep_share:.1f}% (goal {100 * KEEP_GOAL:.0f}%)"
    )
    out(
        f"{'GOAL MET' if drop_ok else 'GOAL NOT MET'}: boilerplate removed "
        f"{100 * total.drop_share:.1f}% (goal >= {100 * DROP_GOAL:.0f}%)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="directory of cases")
    parser.add_argument(
        "--verbose", action="store_true", help="list every missed keep and surviving drop"
    )
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="length of one speed run (0 skips timing)"
    )
    args = parser.parse_args(argv)
    cases = load_cases(args.corpus)
    if not cases:
        print(f"no cases in {args.corpus}")
        return 0
    report(cases, args.corpus, args.verbose, args.seconds, print)
    return 0


if __name__ == "__main__":
    sys.exit(main())
