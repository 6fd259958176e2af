"""Editing the `[[sources]]` of config.toml for `add`, `remove` and `import`: names, and
comment-preserving edits. (Finding the feed behind a URL is discover.py's.)

The config file is the user's, full of their comments and layout, so an edit changes only the
lines of the table it adds or removes: the rest of the file stays byte-for-byte. Edits are done
on the text (tomlkit renders the values) and then verified by parsing the result; if a file is
too unusual for that, tomlkit's structural edit is the fallback. Writes are atomic.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import tomlkit
from tomlkit.items import AoT, Array

from syndicator.config_values import _NAME, _RESERVED
from syndicator.errors import SyndicatorError

log = logging.getLogger(__name__)

_SLUG_MAX = 40
class SourceEditError(SyndicatorError):
    """The requested change to the sources cannot be made (duplicate, unknown name, ...)."""


@dataclass(frozen=True)
class NewSource:
    """A `[[sources]]` table to write; only the keys the user chose, so defaults stay defaults."""

    name: str
    url: str
    interval: str = ""
    category: str = ""

    def table(self) -> dict[str, str]:
        values = {"name": self.name, "url": self.url}
        if self.interval:
            values["interval"] = self.interval
        if self.category:
            values["category"] = self.category
        return values


def same_url_key(url: str) -> str:
    """A comparison key under which two spellings of one feed URL are equal."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https"):
        return url.strip()
    host = (parts.hostname or "").lower()
    port = parts.port
    if port is not None and port != {"http": 80, "https": 443}[parts.scheme.lower()]:
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", parts.query, ""))


# -- names -----------------------------------------------------------------------------------


def slugify(text: str) -> str:
    """A source name from a title: kept as it is when already valid (so OPML round-trips),
    otherwise lower-case ASCII with dashes. Empty when nothing usable is left."""
    text = text.strip()
    if _NAME.match(text):
        return text
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_.-]+", "-", ascii_text.lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-._")
    if len(slug) > _SLUG_MAX:  # a whole headline-like title makes an unwieldy name
        cut = slug[: _SLUG_MAX + 1]
        slug = cut[: cut.rfind("-")] if "-" in cut[8:] else slug[:_SLUG_MAX]
    return slug.rstrip("-._")


def name_from(title: str, url: str) -> str:
    """The feed's title, else its host without `www.`/`feeds.`, else "feed"."""
    host = (urlsplit(url).hostname or "").lower()
    host = re.sub(r"^(www|feeds?|rss)\.", "", host)
    return slugify(title) or slugify(host) or "feed"


def unique_name(name: str, taken: Iterable[str]) -> str:
    """`name`, or `name-2`, `name-3`, ... Case-insensitive, since names become file names."""
    used = {t.lower() for t in taken} | _RESERVED
    if name.lower() not in used:
        return name
    for n in range(2, 10_000):
        suffix = f"-{n}"
        candidate = name[: 64 - len(suffix)] + suffix
        if candidate.lower() not in used:
            return candidate
    raise SourceEditError(f"no free name for {name!r}")


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise SourceEditError(
            f"invalid name {name!r}: start with a letter or digit and use only letters, "
            "digits, '.', '-', '_' (at most 64)"
        )
    if name.lower() in _RESERVED:
        raise SourceEditError(f"the name {name!r} is reserved")
    return name


# -- editing config.toml ---------------------------------------------------------------------

_HEADER = re.compile(r"^[ \t]*\[(\[?)[ \t]*([^\[\]#]+?)[ \t]*\]\]?[ \t]*(?:#.*)?$")


def _blank(line: str) -> bool:
    return not line.strip()


def _comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _source_spans(lines: Sequence[str]) -> list[tuple[int, int]]:
    """(header line, last line) of each `[[sources]]` table. Comments right above the next
    header, or after a blank line, belong to what follows; a commented-out key directly under
    the table's keys belongs to the table."""
    headers = [
        (i, m.group(1) == "[", m.group(2).strip())
        for i, line in enumerate(lines)
        if (m := _HEADER.match(line.rstrip("\r\n")))
    ]
    spans = []
    for k, (start, is_array, name) in enumerate(headers):
        if not (is_array and name == "sources"):
            continue
        stop = headers[k + 1][0] if k + 1 < len(headers) else len(lines)
        last = stop - 1
        if k + 1 < len(headers):
            while last > start and _comment(lines[last]):
                last -= 1
        end = start
        for i in range(start + 1, last + 1):
            if not _blank(lines[i]) and not _comment(lines[i]):
                end = i
        while end + 1 <= last and _comment(lines[end + 1]):
            end += 1
        spans.append((start, end))
    return spans


def _render(sources: Sequence[NewSource], newline: str) -> str:
    blocks = []
    for source in sources:
        rows = ["[[sources]]"]
        rows += [f"{k} = {tomlkit.item(v).as_string()}" for k, v in source.table().items()]
        blocks.append(newline.join(rows) + newline)
    return newline.join(blocks)


def _newline(text: str) -> str:
    first = text.split("\n", 1)[0]
    return "\r\n" if first.endswith("\r") and "\n" in text else "\n"


def append_sources(text: str, sources: Sequence[NewSource]) -> str:
    """config text with `sources` added after the last `[[sources]]` table (or at the end)."""
    if not sources:
        return text
    expected = tomllib.loads(text)
    expected.setdefault("sources", [])
    expected["sources"] = [*expected["sources"], *(s.table() for s in sources)]
    newline = _newline(text)
    lines = text.splitlines(keepends=True)
    spans = _source_spans(lines)
    block = _render(sources, newline)
    if spans:
        end = spans[-1][1]
        if not lines[end].endswith(("\n", "\r")):
            lines[end] += newline
        lines.insert(end + 1, newline + block)
    else:
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += newline
        lines.append((newline if lines and not _blank(lines[-1]) else "") + block)
    result = "".join(lines)
    if _parses_as(result, expected):
        return result
    log.debug("text edit of the config did not verify; using tomlkit's structural edit")
    doc = tomlkit.parse(text)
    current = doc.get("sources")
    for source in sources:
        if current is None:
            current = tomlkit.aot()
            doc.append("sources", current)
        if isinstance(current, AoT):
            current.append(_table(source))
        elif isinstance(current, Array):
            inline = tomlkit.inline_table()
            inline.update(source.table())
            current.append(inline)
    result = tomlkit.dumps(doc)
    if not _parses_as(result, expected):
        raise SourceEditError("cannot add to the [[sources]] of this config file safely")
    return result


def _table(source: NewSource) -> Any:
    table = tomlkit.table()
    for key, value in source.table().items():
        table.add(key, value)
    return table


def remove_source(text: str, name: str) -> str:
    """config text without the `[[sources]]` table named `name`; comments outside it stay."""
    expected = tomllib.loads(text)
    sources = expected.get("sources")
    if not isinstance(sources, list):
        raise SourceEditError(f"no source named {name!r}")
    index = next((i for i, s in enumerate(sources) if s.get("name") == name), None)
    if index is None:
        raise SourceEditError(f"no source named {name!r}")
    del sources[index]
    if not sources:
        del expected["sources"]
    lines = text.splitlines(keepends=True)
    spans = _source_spans(lines)
    if len(spans) == len(sources) + 1:
        # Comments above the header stay: whether they describe this table or head a group
        # cannot be told, and a lost comment cannot be recovered.
        start, end = spans[index]
        before_open = start == 0 or _blank(lines[start - 1])
        if before_open and end + 1 < len(lines) and _blank(lines[end + 1]):
            end += 1
        result = "".join(lines[:start] + lines[end + 1 :])
        if _parses_as(result, expected):
            return result
    log.debug("text edit of the config did not verify; using tomlkit's structural edit")
    doc = tomlkit.parse(text)
    current = doc["sources"]
    if isinstance(current, AoT | Array):
        del current[index]
        if not len(current):
            del doc["sources"]
    result = tomlkit.dumps(doc)
    if not _parses_as(result, expected):
        raise SourceEditError("cannot remove from the [[sources]] of this config file safely")
    return result


def _parses_as(text: str, expected: Mapping[str, Any]) -> bool:
    try:
        return tomllib.loads(text) == expected
    except tomllib.TOMLDecodeError:
        return False


def write_config_text(path: Path, original: str, text: str) -> None:
    """Replace the config atomically, keeping its mode and following a symlink to the real
    file; refuses if someone changed the file since it was read, rather than lose their edit."""
    target = path.resolve()
    try:
        current = read_config_text(target)
        mode = target.stat().st_mode & 0o7777
    except FileNotFoundError:
        current, mode = "", 0o644
    if current != original:
        raise SourceEditError(f"{path} changed while it was being edited; nothing written")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_config_text(path: Path) -> str:
    """The file as it is on disk (no newline translation, so CRLF files stay CRLF)."""
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()
