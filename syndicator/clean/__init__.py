"""The clean stage: ParsedEntry + RuleSet → CleanEntry (safe HTML, plain text, removals).

Pure: no I/O beyond reading the package's own rule files once.
"""

from __future__ import annotations

from syndicator.clean.engine import clean_entry, clean_html, clean_title
from syndicator.clean.ruleset import Rule, RuleSet, check_user_rules, load_rules
from syndicator.clean.urls import strip_tracking, unwrap_feedproxy

__all__ = [
    "Rule",
    "RuleSet",
    "check_user_rules",
    "clean_entry",
    "clean_html",
    "clean_title",
    "load_rules",
    "strip_tracking",
    "unwrap_feedproxy",
]
