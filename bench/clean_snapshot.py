"""What the cleaner makes of every entry of the corpora, written to a file to compare across
rule changes.

    .venv/bin/python bench/clean_snapshot.py write BEFORE.json [--boilerplate-only-existing F]
    .venv/bin/python bench/clean_snapshot.py diff BEFORE.json AFTER.json

`write` cleans every entry of the real feeds (tests/data/real/, ../shared/corpus/real/ when
present), the seed article (HTML and text) and every case of tests/data/boilerplate/, and stores
per entry the cleaned HTML, text and link. `diff` prints, for every entry present in both files
whose output changed, each paragraph of text that went or came, and the count of entries whose
HTML changed; entries only in one file (new corpus cases) are listed, not compared. A rule change
that only adds removals shows as paragraphs that went; anything else is a regression to explain.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing the package
    sys.path.insert(0, str(ROOT))

from syndicator.clean import clean_entry, load_rules  # noqa: E402
from syndicator.model import ParsedEntry  # noqa: E402
from syndicator.parse import parse_feed  # noqa: E402

FEED_DIRS = (ROOT / "tests" / "data" / "real", ROOT.parent / "shared" / "corpus" / "real")
SEED = ROOT / "tests" / "data" / "seed"
BOILERPLATE = ROOT / "tests" / "data" / "boilerplate"


def entries() -> Iterator[tuple[str, ParsedEntry]]:
    """(a stable id, the entry) for every input of the corpora."""
    for folder in FEED_DIRS:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            feed = parse_feed(path.read_bytes(), f"https://feeds.example/{path.name}")
            for i, entry in enumerate(feed.entries):
                yield f"{folder.parent.name}/{folder.name}/{path.name}#{i}", entry
    for path in sorted(SEED.iterdir()):
        html = path.read_text(encoding="utf-8")
        yield f"seed/{path.name}", ParsedEntry(key=path.name, title="", link="", html=html)
    for path in sorted(BOILERPLATE.glob("*.toml")):
        case = tomllib.loads(path.read_text(encoding="utf-8"))
        title, link, html = case["title"], case["link"], case["html"]
        entry = ParsedEntry(key=path.name, title=title, link=link, html=html)
        yield f"boilerplate/{path.name}", entry


def snapshot() -> dict[str, dict[str, str]]:
    rules = load_rules()
    out: dict[str, dict[str, str]] = {}
    for ident, entry in entries():
        cleaned = clean_entry(entry, rules, explain=False)
        out[ident] = {"html": cleaned.html, "text": cleaned.text, "link": cleaned.link}
    return out


def diff(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> int:
    """Print what changed; the number of changed entries."""
    changed = 0
    html_only = 0
    for ident in sorted(before.keys() & after.keys()):
        old, new = before[ident], after[ident]
        if old == new:
            continue
        changed += 1
        old_paras, new_paras = old["text"].split("\n\n"), new["text"].split("\n\n")
        went = [p for p in old_paras if p not in new_paras]
        came = [p for p in new_paras if p not in old_paras]
        if not went and not came:
            html_only += 1
        print(f"{ident}")
        for p in went:
            print(f"  - {p}")
        for p in came:
            print(f"  + {p}")
        if old["link"] != new["link"]:
            print(f"  link {old['link']!r} -> {new['link']!r}")
    for ident in sorted(after.keys() - before.keys()):
        print(f"new input (not compared): {ident}")
    for ident in sorted(before.keys() - after.keys()):
        print(f"input gone (not compared): {ident}")
    same = len(before.keys() & after.keys()) - changed
    print(
        f"{same} of {len(before.keys() & after.keys())} entries byte-identical; {changed} changed"
        f" ({html_only} in their HTML only)"
    )
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("write", help="clean every corpus entry and store the outputs")
    write.add_argument("file", type=Path)
    compare = sub.add_parser("diff", help="what changed between two snapshots")
    compare.add_argument("before", type=Path)
    compare.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "write":
        data = snapshot()
        args.file.write_text(json.dumps(data, ensure_ascii=False, indent=0), encoding="utf-8")
        print(f"{len(data)} entries written to {args.file}")
        return 0
    before = json.loads(args.before.read_text(encoding="utf-8"))
    after = json.loads(args.after.read_text(encoding="utf-8"))
    diff(before, after)
    return 0


if __name__ == "__main__":
    sys.exit(main())
