"""Check that the cleaner still writes, byte for byte, what it wrote before a refactoring.

    .venv/bin/python bench/clean_identity.py                   # compare with the baseline
    .venv/bin/python bench/clean_identity.py --write           # baseline from this tree
    .venv/bin/python bench/clean_identity.py --write --rev R   # baseline from revision R

The corpus tests score what the cleaner keeps and drops; they cannot see that a moved function
now collapses a space it did not collapse before. This script can. Its inputs are every entry
of every feed in tests/data/real, ../shared/corpus/real (when that folder exists), tests/data/
hostile and samples/, every case of tests/data/boilerplate, the hostile files and
tests/data/seed bodies cleaned as entry bodies, and bench/_feeds.generate(40, 25). Each entry
is cleaned three ways: package rules with explain=True, with explain=False, and with user rules
(drop, drop_selectors) added. A digest of (html, text, title, link, removals, strip_tracking of
the raw link) per entry and way is compared with bench/clean_identity.tsv, together with a
digest of the entry as parsed, so that a parser change is told apart from a cleaner change.

Feeds are always parsed by this tree's parser; `--rev` cleans those entries with that
revision's `syndicator` package (git archive into a temporary folder, run in a child process).
Exit status 1 when any output differs or the inputs are not those of the baseline.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "bench" / "clean_identity.tsv"
FEED_DIRS = ("tests/data/real", "../shared/corpus/real", "tests/data/hostile", "samples")
BODY_DIRS = ("tests/data/hostile", "tests/data/seed")
GENERATED = (40, 25)  # feeds x entries of bench/_feeds.generate
USER_DROP = ("Anzeige", "^Mehr zum Thema", "newsletter")
USER_SELECTORS = ("aside", ".wp-caption", "div.share, ul.social", "blockquote.twitter-tweet")
MODES = ("explain", "quiet", "user")
LIBRARIES = ("lxml", "nh3", "cssselect", "feedparser")


def _digest(value: object) -> str:
    data = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# ------------------------------------------------------------------------------------- inputs


def collect_inputs() -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """(label, entry as plain fields) for every input, and the folders that were not there."""
    from syndicator.model import ParsedEntry
    from syndicator.parse import parse_feed

    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    import _feeds

    found: list[tuple[str, ParsedEntry]] = []
    absent: list[str] = []

    def feed(label: str, body: bytes, url: str) -> None:
        try:
            parsed = parse_feed(body, url)
        except Exception as exc:  # refused (XXE, not a feed): the label says so, no entries
            found.append((f"{label} refused:{type(exc).__name__}", ParsedEntry("", "", "", "")))
            return
        for i, entry in enumerate(parsed.entries):
            found.append((f"{label}#{i}", entry))

    for folder in FEED_DIRS:
        path = ROOT / folder
        if not path.is_dir():
            absent.append(folder)
            continue
        for file in sorted(p for p in path.iterdir() if p.is_file() and p.suffix != ".md"):
            feed(f"{folder}/{file.name}", file.read_bytes(), f"https://corpus.example/{file.name}")
    for folder in BODY_DIRS:
        for file in sorted((ROOT / folder).iterdir()):
            body = file.read_bytes().decode("utf-8", "replace")
            link = f"https://corpus.example/{file.stem}?utm_source=identity"
            found.append(
                (f"{folder}/{file.name} body", ParsedEntry(file.name, file.stem, link, body))
            )
    for file in sorted((ROOT / "tests/data/boilerplate").glob("*.toml")):
        case = tomllib.loads(file.read_text(encoding="utf-8"))
        entry = ParsedEntry(file.name, case["title"], case["link"], case["html"])
        found.append((f"tests/data/boilerplate/{file.name}", entry))
    for doc in _feeds.generate(*GENERATED):
        feed(f"generate{GENERATED}{doc.path}", doc.body, f"http://127.0.0.1{doc.path}")
    return [(label, _fields(entry)) for label, entry in found], absent


def _fields(entry: Any) -> dict[str, Any]:
    return {
        name: value.isoformat() if isinstance(value, datetime) else value
        for name, value in dataclasses.asdict(entry).items()
    }


# ------------------------------------------------------------------------------------ cleaning


def clean_all(inputs: Sequence[tuple[str, dict[str, Any]]]) -> list[tuple[str, str, str]]:
    """(label, digest of the input, digests of the outputs in MODES) for every input, with
    whichever `syndicator` package is first on sys.path."""
    from syndicator.clean import clean_entry, load_rules, strip_tracking
    from syndicator.model import ParsedEntry

    known = {f.name for f in dataclasses.fields(ParsedEntry)}
    package = load_rules()
    user = load_rules(USER_DROP, USER_SELECTORS)
    rows: list[tuple[str, str, str]] = []
    for label, fields in inputs:
        source = _digest(fields)
        kwargs = {k: v for k, v in fields.items() if k in known}
        for key in ("published", "updated"):
            if isinstance(kwargs.get(key), str):
                kwargs[key] = datetime.fromisoformat(kwargs[key])
        entry = ParsedEntry(**kwargs)
        tracking = strip_tracking(entry.link)
        outputs = []
        for mode in MODES:
            rules = user if mode == "user" else package
            out = clean_entry(entry, rules, explain=mode != "quiet")
            removals = [[r.rule, r.text] for r in out.removals]
            value = [out.html, out.text, out.title, out.link, removals, tracking]
            outputs.append(_digest(value))
        rows.append((label, source, " ".join(outputs)))
    return rows


def _versions() -> str:
    from importlib.metadata import version

    names = [f"python {sys.version.split()[0]}"]
    names += [f"{name} {version(name)}" for name in LIBRARIES]
    return ", ".join(names)


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def clean_at(rev: str, inputs: Sequence[tuple[str, dict[str, Any]]]) -> list[tuple[str, str, str]]:
    """clean_all with the `syndicator` package of a git revision, in a child process."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev, "syndicator"],
        check=True,
        capture_output=True,
    ).stdout
    with tempfile.TemporaryDirectory(prefix="clean-identity-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        request = Path(tmp) / "inputs.json"
        request.write_text(json.dumps(inputs, ensure_ascii=False), encoding="utf-8")
        answer = Path(tmp) / "rows.json"
        subprocess.run(
            [sys.executable, __file__, "--child", tmp, str(request), str(answer)], check=True
        )
        rows: list[list[str]] = json.loads(answer.read_text(encoding="utf-8"))
    return [(a, b, c) for a, b, c in rows]


# ----------------------------------------------------------------------------------- baseline


def write(path: Path, rows: Iterable[tuple[str, str, str]], source: str, absent: list[str]) -> int:
    lines = [
        f"# bench/clean_identity.py baseline: cleaner of {source}; {_versions()}",
        f"# label<TAB>digest of the parsed entry<TAB>digests of its cleans: {' '.join(MODES)}",
    ]
    lines += [f"# not present when written: {folder}" for folder in absent]
    body = [f"{label}\t{src}\t{out}" for label, src, out in rows]
    path.write_text("\n".join(lines + body) + "\n", encoding="utf-8")
    return len(body)


def read(path: Path) -> tuple[dict[str, tuple[str, str]], str]:
    rows: dict[str, tuple[str, str]] = {}
    header = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            header = header or line
            continue
        label, src, out = line.split("\t")
        rows[label] = (src, out)
    return rows, header


def compare(
    rows: Sequence[tuple[str, str, str]], path: Path, absent: list[str], verbose: bool
) -> int:
    baseline, header = read(path)
    versions = _versions()
    if versions not in header:
        print(
            f"note: the baseline was computed with other libraries:\n  {header}\n  now: {versions}"
        )
    changed: list[str] = []
    for label, _, out in rows:
        if label in baseline and baseline[label][1] != out:
            was = baseline[label][1].split()
            modes = [m for m, a, b in zip(MODES, was, out.split(), strict=True) if a != b]
            changed.append(f"{label} ({', '.join(modes)})")
    moved = [label for label, src, _ in rows if label in baseline and baseline[label][0] != src]
    now = {label for label, _, _ in rows}
    new = [label for label in now if label not in baseline]
    skipped = [label for label in baseline if label not in now]
    unexplained = [label for label in skipped if not any(label.startswith(f"{a}/") for a in absent)]
    same = len(rows) - len(new) - len(changed)
    print(
        f"{len(rows) - len(new)} entries x {len(MODES)} cleans ({', '.join(MODES)}) checked"
        f" against {path.relative_to(ROOT)}: {same} entries identical"
    )
    for name, labels in (
        ("output differs", changed),
        ("input differs (the parser changed, or a corpus file)", moved),
        ("not in the baseline", new),
        ("in the baseline, not produced", unexplained),
    ):
        if labels:
            print(f"  {name}: {len(labels)}")
            for label in sorted(labels)[: None if verbose else 10]:
                print(f"    {label}")
    for folder in absent:
        n = sum(label.startswith(f"{folder}/") for label in skipped)
        print(f"  not checked: {folder} is absent here ({n} baseline entries)")
    ok = not (changed or moved or new or unexplained)
    print("IDENTICAL" if ok else "DIFFERENT")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--write", action="store_true", help="(re)write the baseline")
    parser.add_argument("--rev", help="with --write: the git revision whose cleaner to use")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="the baseline file")
    parser.add_argument("--verbose", action="store_true", help="list every differing label")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:  # clean_at's child: the revision's package first on the path
        code, request, answer = args.child
        sys.path.insert(0, code)
        inputs = json.loads(Path(request).read_text(encoding="utf-8"))
        Path(answer).write_text(json.dumps(clean_all(inputs)), encoding="utf-8")
        return 0
    if args.rev and not args.write:
        parser.error("--rev goes with --write")
    if str(ROOT) not in sys.path:  # run from a checkout without installing the package
        sys.path.insert(0, str(ROOT))
    start = time.perf_counter()
    inputs, absent = collect_inputs()
    rows = clean_at(args.rev, inputs) if args.rev else clean_all(inputs)
    files = len({label.split("#")[0].split(" ")[0] for label, _ in inputs})
    seconds = time.perf_counter() - start
    print(f"{files} input files or cases, {len(inputs)} entries ({seconds:.0f} s)")
    if args.write:
        head = _git("rev-parse", f"{args.rev or 'HEAD'}^{{commit}}")[:12]
        if not args.rev:
            source = f"the working tree at {head}"
        else:
            source = f"revision {head}" + ("" if head.startswith(args.rev) else f" ({args.rev})")
        n = write(args.baseline, rows, source, absent)
        print(f"wrote {n} entries' digests to {args.baseline}")
        return 0
    return compare(rows, args.baseline, absent, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
