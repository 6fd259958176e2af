"""The analysis alone (parse → clean → match → sketch, learned templates included), in process,
on bench/perf.py's generated feeds: the CPU each new entry costs a worker, without the network,
the store or the pool.

    .venv/bin/python bench/analyse_bench.py [--feeds 40] [--entries 30]

Prints seconds per run with templates learned (as a new source's first poll does), with
learning off, and with learning and the story sketch off; the best of `--repeat` runs each.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _feeds
import perf

from syndicator import analyse, stories
from syndicator.analyse import Analyser, Job
from syndicator.config import load_config


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--feeds", type=int, default=40)
    ap.add_argument("--entries", type=int, default=30)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    docs = _feeds.generate(args.feeds, args.entries)
    with tempfile.TemporaryDirectory() as tmp:
        urls = [f"http://h{i}.example/f" for i in range(len(docs))]
        config = load_config(perf.write_config(Path(tmp), urls, spacing="0s"))
    analyser = Analyser(config)
    names = [s.name for s in config.sources]
    headers = {"Content-Type": "application/rss+xml"}

    def run() -> float:
        best = float("inf")
        for _ in range(args.repeat):
            started = time.perf_counter()
            for doc, name in zip(docs, names, strict=False):
                analyser.analyse(Job(name, doc.body, "http://h.example/f", headers, {}))
            best = min(best, time.perf_counter() - started)
        return best

    total = sum(d.entries for d in docs)
    run()  # warm the rule sets and caches
    print(f"{total} entries, templates learned:       {run():.2f} s")
    analyser.learning = {name: False for name in analyser.learning}
    print(f"{total} entries, learning off:            {run():.2f} s")
    sketch = stories.sketch
    analyse.stories.sketch = lambda text: ()  # type: ignore[assignment]
    try:
        print(f"{total} entries, learning and sketch off: {run():.2f} s")
    finally:
        analyse.stories.sketch = sketch
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
