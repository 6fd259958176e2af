"""What `syndicator clean FILE|URL [--explain]` prints: the cleaned entries, and why.

Kept apart from the CLI so the text can be tested without running a command. A report, not
an "explain" module: match/explain.py is the matcher's account of which terms matched where.
"""

from __future__ import annotations

from collections.abc import Sequence

from syndicator.model import CleanEntry, ParsedEntry
from syndicator.template import NOTHING, Template


def explain_entries(
    feed_title: str,
    entries: Sequence[tuple[ParsedEntry, CleanEntry]],
    explain: bool,
    learned: Template = NOTHING,
) -> str:
    """One block per entry: '## title <link>', the cleaned text, and (explain) the removals;
    first (explain) the source's learned template, when there is one."""
    removed = sum(len(clean.removals) for _, clean in entries)
    lines = [f"# {feed_title or '(untitled feed)'}", f"{len(entries)} entries"]
    if explain:
        lines[-1] += f", {removed} removals"
        if learned:
            lines.append(
                f"template learned from {learned.entries} entries: {len(learned.blocks)} blocks"
            )
            lines.extend(f"  - [{b.rule}] {b.key}" for b in learned.blocks)
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
