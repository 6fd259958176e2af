"""The matcher's work in instructions, for comparing two revisions on a busy machine.

    git worktree add /tmp/old REV
    for tree in /tmp/old .; do for n in 0 400; do
        valgrind --tool=callgrind --callgrind-out-file=cg-$(basename $tree)-$n.out \\
            .venv/bin/python bench/match_count.py --tree $tree --generator /tmp/old/bench --match $n
    done; done
    grep -h ^summary cg-*.out   # matching cost = (n=400) - (n=0), per tree

Wall-clock figures of bench/match_bench.py move with whatever else the machine runs; callgrind's
instruction counts do not. The entries and topics come from one revision's match_bench generator
(`--generator`) so both trees get the same inputs; compiling the topics and generating the
entries are counted in both runs, so the difference is matching alone.
"""

from __future__ import annotations

import argparse
import random
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tree", default=".", help="the checkout whose syndicator package is run")
    ap.add_argument("--generator", default="bench", help="a bench/ folder: its generator")
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=400)
    ap.add_argument("--match", type=int, default=400, help="how many of the entries to match")
    args = ap.parse_args()
    sys.path[:0] = [args.tree, args.generator]
    import match_bench as mb

    from syndicator.match import compile_topics
    from syndicator.model import Topic

    rng = random.Random(7)
    words, _ = mb.vocabulary(rng)
    entries = [mb.make_entry(rng, words) for _ in range(args.entries)]
    topics = [Topic(f"topic{i}", mb.make_query(rng, words)) for i in range(args.topics)]
    matcher = compile_topics(topics)
    hits = sum(len(matcher.match(*entry)) for entry in entries[: args.match])
    print(f"{args.match} entries matched against {len(topics)} topics: {hits} hits")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
