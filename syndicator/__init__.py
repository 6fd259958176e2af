"""Syndicator: poll news feeds, clean them, match topics, publish Atom, alert once per story."""

__version__ = "0.1.0"
