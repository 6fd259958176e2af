"""Driver for reader (lemon24/reader) in bench/perf.py; runs in reader's own venv, not ours.

python perf_reader.py setup DB URLS_FILE   # add_feed for every URL (not timed)
python perf_reader.py update DB            # update_feeds(workers=4, scheduled=False) (timed)
python perf_reader.py count DB             # JSON: entries and broken feeds (not timed)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from reader import make_reader

    command, db = argv[0], argv[1]
    reader = make_reader(db)
    try:
        if command == "setup":
            for url in Path(argv[2]).read_text(encoding="utf-8").split():
                reader.add_feed(url, exist_ok=True)
        elif command == "update":
            reader.update_feeds(workers=4, scheduled=False)
        elif command == "count":
            counts = reader.get_entry_counts()
            feeds = reader.get_feed_counts()
            out = {"entries": counts.total, "feeds": feeds.total, "broken": feeds.broken}
            print(json.dumps(out))
        else:
            print(f"unknown command {command!r}", file=sys.stderr)
            return 2
    finally:
        reader.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
