"""What learning each source's template (syndicator/template.py) does on real feeds, and that it
takes no article text.

    .venv/bin/python bench/template_eval.py [--corpus DIR] [--poll N] [--verbose]

1. Real feeds (../shared/corpus/real): each file is one source, its entries polled oldest
   first, N at a time (default 5), as a daemon would have met them: each poll learns from the
   source's memory and the poll's entries (analyse.learn_from), cleans with what it learned
   (analyse.with_template), and adds the poll's blocks to the memory. Per feed: the blocks
   learned at the end (with their counts), how many blocks the template removed, and which.
   Every removed block that reads like an article sentence (8 words or more, ending with . ! ?
   and not a "read more" line) is listed as SUSPECT: the check that no sentence goes.
2. The labelled corpus of bench/clean_eval.py (tests/data/boilerplate): its cases grouped by
   style (en-news, de-news, …; a group is one "source"), polled the same way, then scored with
   clean_eval's own scoring with and without templates: keep (recall of article text) and drop
   (boilerplate removed) must not fall. Then again with one Finnish junk line (a counter in
   it) added to every case and to its drop list: a template to learn in every group of 8 or
   more, which must go while every keep string stays.

A report: exit status 1 when a keep string of the labelled corpus was lost, else 0. SUSPECT
lines are for reading: a sentence-shaped line can still be a template (a release
announcement's "You can grab the tarball from our download page. …").
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import clean_eval  # noqa: E402
from syndicator.analyse import learn_from, with_template  # noqa: E402
from syndicator.clean import clean_entry, load_rules  # noqa: E402
from syndicator.clean.ruleset import RuleSet  # noqa: E402
from syndicator.model import CleanEntry, ParsedEntry  # noqa: E402
from syndicator.parse import parse_feed  # noqa: E402
from syndicator.template import RULE, WINDOW, Template  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "real"
_SENTENCE = re.compile(r".*[.!?][\"'»”)]*$")
_READ_MORE = re.compile(r"continue reading|read more|weiterlesen|\[link\]|\bcomments?\b", re.I)


def poll_source(
    entries: Sequence[ParsedEntry], rules: RuleSet, per_poll: int
) -> tuple[list[tuple[ParsedEntry, CleanEntry]], Template]:
    """The entries (oldest first) met `per_poll` at a time by a source's polls; each cleaned
    with what its poll learned. Returns (entry, its clean) in order, and the last template."""
    memory: list[tuple[str, tuple[str, ...]]] = []  # newest first
    out: list[tuple[ParsedEntry, CleanEntry]] = []
    learned = Template()
    for start in range(0, len(entries), per_poll):
        batch = list(reversed(entries[start : start + per_poll]))  # a feed lists newest first
        firsts = [(e, clean_entry(e, rules)) for e in batch]
        keyed = [(e.key, c.blocks) for e, c in firsts]
        learned = learn_from(tuple(memory), keyed)
        out += [(e, with_template(e, c, rules, learned, explain=True)) for e, c in firsts]
        memory = (keyed + [m for m in memory if m[0] not in {k for k, _ in keyed}])[:WINDOW]
    return out, learned


def suspect(text: str) -> bool:
    """A removed block that reads like a sentence of an article."""
    return len(text.split()) >= 8 and bool(_SENTENCE.match(text)) and not _READ_MORE.search(text)


def real_feeds(corpus: Path, per_poll: int, verbose: bool) -> int:
    rules = load_rules()
    suspects = 0
    total_entries = total_removed = learning = 0
    print(f"== real feeds in {corpus}, polled {per_poll} entries at a time, oldest first")
    for path in sorted(corpus.glob("*")):
        if not path.is_file():
            continue
        try:
            feed = parse_feed(path.read_bytes(), path.resolve().as_uri(), {})
        except Exception as exc:
            print(f"{path.name}: not parsed ({type(exc).__name__}: {exc})")
            continue
        entries = list(reversed(feed.entries))  # documents list the newest first
        cleaned, learned = poll_source(entries, rules, per_poll)
        removed = [r for _, c in cleaned for r in c.removals if r.rule.startswith(RULE)]
        total_entries += len(entries)
        total_removed += len(removed)
        learning += bool(learned)
        if not removed and not learned and not verbose:
            continue
        touched = sum(any(r.rule.startswith(RULE) for r in c.removals) for _, c in cleaned)
        print(
            f"{path.name}: {len(entries)} entries, {len(learned.blocks)} blocks learned, "
            f"{len(removed)} blocks removed from {touched} entries"
        )
        for block in learned.blocks:
            print(f"    learned [{block.seen} of {block.of}] {block.key[:90]}")
        for text, n in Counter(r.text for r in removed).most_common():
            flag = "SUSPECT " if suspect(text) else ""
            suspects += bool(flag)
            print(f"    removed x{n} {flag}{text[:100]}")
    print(
        f"total: {total_entries} entries, {learning} feeds with a template, "
        f"{total_removed} blocks removed, {suspects} suspect removals"
    )
    return suspects


# A source's own junk line in a language without rules, with a counter that changes.
JUNK = "<p>Lue lisää uutisia Yle-sovelluksesta ({n} kommenttia)</p>"
_TAGS = re.compile(r"<[^>]+>")


def _with_junk(body: str, n: int) -> str:
    """The junk line added as the body's own kind of block: a paragraph, or a plain line."""
    line = JUNK.format(n=n)
    return body + line if "<" in body else body.rstrip("\n") + "\n" + _TAGS.sub("", line)


def labelled(corpus: Path, per_poll: int, junk: bool = False) -> int:
    """Score the labelled corpus with templates off and on; `junk`: every case also ends with
    the same junk line (a template to learn), which must go while every keep string stays."""
    rules = load_rules()
    cases = clean_eval.load_cases(corpus)
    if junk:
        cases = [
            dataclasses.replace(c, html=_with_junk(c.html, i), drop=(*c.drop, "Lue lisää uutisia"))
            for i, c in enumerate(cases)
        ]
    by_style: dict[str, list[clean_eval.Case]] = {}
    for case in cases:
        by_style.setdefault(case.style, []).append(case)
    outputs: dict[str, clean_eval.Output] = {}
    recleaned: dict[str, clean_eval.Output] = {}  # as `syndicator reclean` leaves them
    learned_blocks = 0
    for group in by_style.values():
        cleaned, learned = poll_source([c.entry() for c in group], rules, per_poll)
        learned_blocks += len(learned.blocks)
        for entry, clean in cleaned:
            outputs[entry.key] = clean_eval.Output(clean.text, clean.html, clean.link)
            again = with_template(entry, clean_entry(entry, rules), rules, learned)
            recleaned[entry.key] = clean_eval.Output(again.text, again.html, again.link)

    def plain(entry: ParsedEntry) -> clean_eval.Output:
        c = clean_entry(entry, rules)
        return clean_eval.Output(c.text, c.html, c.link)

    before, _ = clean_eval.score_all(cases, plain)
    after, _ = clean_eval.score_all(cases, lambda entry: outputs[entry.key])
    final, _ = clean_eval.score_all(cases, lambda entry: recleaned[entry.key])
    extra = ", each ending with one Finnish junk line" if junk else ""
    print(f"\n== labelled corpus {corpus} ({len(cases)} cases{extra}, grouped by style)")
    print(f"blocks learned over all groups: {learned_blocks}")
    polled = "templates on, as polled"
    for name, s in (("templates off", before), (polled, after), ("… after reclean", final)):
        print(
            f"  {name:<24} keep {s.keep_hit}/{s.keep_total} "
            f"({100 * s.keep_share:.1f}%)  drop {s.drop_gone}/{s.drop_total} "
            f"({100 * s.drop_share:.1f}%)"
        )
    lost = max(before.keep_hit - after.keep_hit, before.keep_hit - final.keep_hit, 0)
    for case, keep in {*after.missed, *final.missed} - set(before.missed):
        print(f"  LOST with templates: {case}: {keep}")
    return lost


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="folder of real feeds")
    parser.add_argument("--labelled", type=Path, default=clean_eval.DEFAULT_CORPUS)
    parser.add_argument("--poll", type=int, default=5, help="entries met per poll")
    parser.add_argument("--verbose", action="store_true", help="list feeds with nothing learned")
    args = parser.parse_args(argv)
    real_feeds(args.corpus, args.poll, args.verbose)
    lost = labelled(args.labelled, args.poll) + labelled(args.labelled, args.poll, junk=True)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
