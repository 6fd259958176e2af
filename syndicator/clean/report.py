"""What `syndicator clean FILE|URL [--explain]` prints: the cleaned entries, and why.

Kept apart from the CLI so the text can be tested without running a command. A report, not
an "explain" module: match/explain.py is the matcher's account of which terms matched where.
"""

from __future__ import annotations

from collections.abc import Sequence

from syndicator.model import CleanEntry, ParsedEntry


def explain_entries(
    feed_title: str, entries: Sequence[tuple[ParsedEntry, CleanEntry]], explain: bool
) -> str:
    """One block per entry: '## title <link>', the cleaned text, and (explain) the removals."""
    removed = sum(len(clean.removals) for _, clean in entries)
    lines = [f"# {feed_title or '(untitled feed)'}", f"{len(entries)} entries"]
    if explain:
        lines[-1] += f", {removed} removals"
    for parsed, clean in entries:
        lines.append("")
        title = clean.title or "(untitled)"
        link = clean.link or parsed.link
        lines.append(f"## {title} <{link}>" if link else f"## {title}")
        lines.append(clean.text or "(no text)")
        if explain:
            lines.append("")
            lines.append(
                f"removed ({len(clean.removals)}), {len(parsed.html)} → {len(clean.html)} chars"
                f" of html:"
            )
            if not clean.removals:
                lines.append("  (nothing)")
            for removal in clean.removals:
                lines.append(f"  - [{removal.rule}] {removal.text}")
    return "\n".join(lines) + "\n"
