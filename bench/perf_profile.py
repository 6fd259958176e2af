"""Run `python -m syndicator ARGS…` under cProfile in *every* thread, for bench/perf.py --profile.

    python bench/perf_profile.py OUT.prof run --once --config CONFIG

`python -m cProfile -m syndicator …` profiles the main thread only, and the pipeline parses,
cleans, matches and stores in a worker thread while the main thread runs the fetch event loop;
so this wraps Thread.run to give each thread its own profiler. It writes OUT.prof (all threads
merged), OUT.<i>-<thread name>.prof for each thread, and OUT.threads.json (each thread's total
profiled time).
"""

from __future__ import annotations

import cProfile
import json
import pstats
import runpy
import sys
import threading
from typing import Any


def main(argv: list[str]) -> int:
    out, args = argv[0], argv[1:]
    profiles: list[tuple[str, cProfile.Profile]] = []
    lock = threading.Lock()
    original_run = threading.Thread.run

    def run(self: threading.Thread) -> None:
        profile = cProfile.Profile()
        with lock:
            profiles.append((self.name, profile))
        profile.enable()
        try:
            original_run(self)
        finally:
            profile.disable()

    threading.Thread.run = run  # type: ignore[method-assign]
    main_profile = cProfile.Profile()
    sys.argv = ["syndicator", *args]
    code: Any = 0
    main_profile.enable()
    try:
        runpy.run_module("syndicator", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    finally:
        main_profile.disable()
        threading.Thread.run = original_run  # type: ignore[method-assign]

    merged = pstats.Stats(main_profile)
    totals = {"MainThread": merged.total_tt}  # type: ignore[attr-defined]
    main_profile.dump_stats(f"{out}.MainThread.prof")
    for i, (name, profile) in enumerate(profiles):
        stats = pstats.Stats(profile)
        totals[name] = totals.get(name, 0.0) + stats.total_tt  # type: ignore[attr-defined]
        profile.dump_stats(f"{out}.{i}-{name}.prof")
        merged.add(stats)
    merged.dump_stats(out)
    with open(f"{out}.threads.json", "w", encoding="utf-8") as f:
        json.dump(totals, f)
    return code if isinstance(code, int) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
