"""Text folding, word tokenizing and the topic query parser.

Queries and entry texts go through the same `fold` and `words`, so every equivalence the
matcher honours (case, accents, ß/ss, dash and space variants, soft hyphens) is decided once,
here, and holds for both sides by construction.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TypeAlias

from syndicator.errors import QueryError

FIELDS: tuple[str, ...] = ("title", "content", "source")
DEFAULT_FIELDS: frozenset[str] = frozenset({"title", "content"})


def _class(codepoints: list[int], extra: str = "") -> str:
    """A regex character class for a sorted list of code points, as ranges."""
    parts: list[str] = []
    i = 0
    while i < len(codepoints):
        j = i
        while j + 1 < len(codepoints) and codepoints[j + 1] == codepoints[j] + 1:
            j += 1
        lo, hi = chr(codepoints[i]), chr(codepoints[j])
        parts.append(re.escape(lo) if i == j else f"{re.escape(lo)}-{re.escape(hi)}")
        i = j + 1
    return f"[{''.join(parts)}{extra}]"


def _scan_marks() -> tuple[list[int], list[int]]:
    """Combining marks to strip, and the remaining marks that belong inside words.

    Computed from this Python's own Unicode database (rather than a hard-coded table) so text
    and queries always agree with what `unicodedata.normalize` produces. All marks live below
    U+20000 except the variation selectors, which are invisible and stripped too.
    """
    strip: list[int] = []
    keep: list[int] = []
    category, combining = unicodedata.category, unicodedata.combining
    for cp in range(0x20000):  # at import, on every start: one lookup for most code points
        ch = chr(cp)
        # Only marks have a combining class (tests/unit/test_match.py checks it for this database).
        if category(ch)[0] == "M":
            if combining(ch) or 0xFE00 <= cp <= 0xFE0F:
                strip.append(cp)
            else:
                keep.append(cp)
    strip.extend(range(0xE0100, 0xE01F0))
    return strip, keep


# `re` turns a character class that lies wholly in the BMP into a bitmap lookup, but one holding
# any astral character into a linear list of ranges (ten times slower on every character). So
# each class below is split, and the astral/rare-script branches run only when a quick search
# says the text needs them; European text takes the fast path only.
_STRIP, _KEEP = _scan_marks()
_ASTRAL = "\U00010000-\U0010ffff"
# Invisible characters that join rather than separate: the soft hyphen (U+00AD) splits
# "Ver\u00adbindungsbüro" only on screen, zero-width (non-)joiners and word joiners likewise.
_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"
_DROP_BMP = re.compile(_class([c for c in _STRIP if c <= 0xFFFF], _INVISIBLE) + "+")
_DROP_ASTRAL = re.compile(_class([c for c in _STRIP if c > 0xFFFF]) + "+")
_HAS_ASTRAL = re.compile(f"[{_ASTRAL}]")
# Letters Unicode does not decompose but readers treat as accented or as a ligature: "Lodz"
# should find "Łódź" as "Malmo" finds "Malmö", and "oeuvre" finds "œuvre".
_TRANSLIT = {"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "\u0131": "i", "œ": "oe", "æ": "ae"}
_TRANSLIT_RE = re.compile(f"[{''.join(_TRANSLIT)}]")

# Han and kana are written without spaces, so each character is a word of its own and a
# multi-character query becomes a phrase of them. Marks that survive folding (Indic vowel
# signs, say) are part of words. Everything else that is not a letter or digit separates words.
_CJK_BMP = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = _CJK_BMP + "\U00020000-\U0003ffff"
_KEEP_BMP = _class([c for c in _KEEP if c <= 0xFFFF])
_KEEP_ASTRAL = _class([c for c in _KEEP if c > 0xFFFF])
_SIMPLE_WORD_RE = re.compile(r"[^\W_]+")
_NEEDS_FULL = re.compile(f"{_KEEP_BMP}|[{_CJK_BMP}{_ASTRAL}]")
WORD_RE = re.compile(f"[{_CJK}]|(?:[^\\W_{_CJK}]|{_KEEP_BMP}|{_KEEP_ASTRAL})+")


def fold(text: str) -> str:
    """Case-, accent- and compatibility-insensitive form of `text`.

    Casefold + NFKD (twice when needed: both can expose work for the other), then drop combining
    marks and invisible joiners, and transliterate the few letters that do not decompose. Every
    step works character by character, so folding a string equals folding its characters one at
    a time; `explain` relies on that to map words back.
    """
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKD", text.casefold())
    again = text.casefold()
    if again != text:
        text = unicodedata.normalize("NFKD", again)
    text = _DROP_BMP.sub("", text)
    text = _TRANSLIT_RE.sub(_transliterate, text)
    if _HAS_ASTRAL.search(text):
        text = _DROP_ASTRAL.sub("", text)
    return text


def _transliterate(m: re.Match[str]) -> str:
    return _TRANSLIT[m.group()]


def split_folded(folded: str) -> list[str]:
    """The words of already-folded text, in order."""
    if folded.isascii() or not _NEEDS_FULL.search(folded):
        return _SIMPLE_WORD_RE.findall(folded)
    return WORD_RE.findall(folded)


def words(text: str) -> list[str]:
    """Folded words of `text`; hyphens, apostrophes and all punctuation separate words."""
    return split_folded(fold(text))


# ---------------------------------------------------------------- AST


@dataclass(frozen=True)
class Term:
    """A word, a prefix (`word*`) or a phrase: folded words that must be adjacent, in order.

    A term matches a run of whole words of the text whose letters, put together, are its
    letters (`letters`): where the words break does not matter, so `Indopazifik`,
    "Indo-Pazifik" and "Indo Pazifik" are one spelling, and `"Indo-Pacific"` finds
    "Indopacific". Only between two digits does a break count ("2:1" is not "21").

    `label` is the term as the user wrote it (quotes kept, field prefix dropped): it is what an
    alert shows as the reason for a match. `acronym`: written as 2-5 capitals (`NATO`), so it
    also heads a closed compound with a known noun (see `syndicator.match.acronyms`).
    """

    label: str
    words: tuple[str, ...]
    prefix: bool
    fields: frozenset[str]
    position: int
    acronym: bool = False

    @property
    def letters(self) -> str:
        return "".join(self.words)


@dataclass(frozen=True)
class Not:
    operand: Node
    position: int


@dataclass(frozen=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    operands: tuple[Node, ...]


Node: TypeAlias = Term | Not | And | Or


@dataclass(frozen=True)
class Query:
    """A parsed query: the source text, the tree, and its terms in the order written."""

    text: str
    root: Node

    @property
    def terms(self) -> tuple[Term, ...]:
        out: list[Term] = []
        stack: list[Node] = [self.root]
        while stack:
            node = stack.pop()
            if isinstance(node, Term):
                out.append(node)
            elif isinstance(node, Not):
                stack.append(node.operand)
            else:
                stack.extend(reversed(node.operands))
        return tuple(out)


# ---------------------------------------------------------------- lexer


@dataclass(frozen=True)
class _Tok:
    kind: str  # TERM PHRASE AND OR NOT MINUS FIELD LPAREN RPAREN END
    text: str
    pos: int
    end: int


_OPERATORS = frozenset({"AND", "OR", "NOT"})
_FIELD_RE = re.compile(r"([A-Za-z]+):")
_MAX_DEPTH = 64  # nesting of parentheses, NOT and fields; keeps recursion far from the limit


def _lex(query: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in "()":
            toks.append(_Tok("LPAREN" if ch == "(" else "RPAREN", ch, i, i + 1))
            i += 1
        elif ch == '"':
            close = query.find('"', i + 1)
            if close < 0:
                raise QueryError("unbalanced quote", query, i)
            toks.append(_Tok("PHRASE", query[i : close + 1], i, close + 1))
            i = close + 1
        elif ch == "-" and i + 1 < n and not query[i + 1].isspace() and query[i + 1] != ")":
            toks.append(_Tok("MINUS", ch, i, i + 1))
            i += 1
        elif m := _FIELD_RE.match(query, i):
            toks.append(_Tok("FIELD", m.group(1).lower(), i, m.end()))
            i = m.end()
        else:
            j = i
            while j < n and query[j] not in '()"' and not query[j].isspace():
                j += 1
            text = query[i:j]
            toks.append(_Tok(text if text in _OPERATORS else "TERM", text, i, j))
            i = j
    toks.append(_Tok("END", "", n, n))
    return toks


# ---------------------------------------------------------------- parser


def _make_term(query: str, tok: _Tok, fields: frozenset[str]) -> Term:
    quoted = tok.kind == "PHRASE"
    body_start = tok.pos + 1 if quoted else tok.pos
    body = tok.text[1:-1] if quoted else tok.text
    if quoted and not body.strip():
        raise QueryError("empty phrase", query, tok.pos)
    star = body.find("*")
    prefix = False
    if star >= 0:
        where = body_start + star
        if body == "*":
            raise QueryError("a bare '*' matches everything; put it after a word", query, where)
        if star != len(body) - 1:
            raise QueryError("'*' is only allowed at the end of a term", query, where)
        before = fold(body[:star])
        if not before or not WORD_RE.match(before[-1]):
            raise QueryError("'*' must follow a letter or digit", query, where)
        body, prefix = body[:-1], True
    found = tuple(words(body))
    if not found:
        raise QueryError("term has no letters or digits", query, tok.pos)
    return Term(tok.text, found, prefix, fields, tok.pos, _is_acronym(body) and not prefix)


def _is_acronym(written: str) -> bool:
    """A query word typed as an acronym: 2-5 letters, all capitals (`NATO`, `EU`, `ÖVP`)."""
    return 2 <= len(written) <= 5 and written.isalpha() and written.isupper()


class _Parser:
    """Recursive descent, one method per precedence level, so every error knows its position.

    or := and (OR and)*    and := unary ([AND] unary)*    unary := (NOT | -) unary | primary
    primary := [field:] (term | "phrase" | '(' or ')')
    """

    _STARTS = frozenset({"TERM", "PHRASE", "LPAREN", "NOT", "MINUS", "FIELD"})

    def __init__(self, query: str) -> None:
        self.query = query
        self.toks = _lex(query)
        self.i = 0
        self.depth = 0

    def nest(self, tok: _Tok) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.fail("query nests too deeply", tok.pos)

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, message: str, pos: int) -> QueryError:
        return QueryError(message, self.query, pos)

    def parse(self) -> Node:
        first = self.peek()
        if first.kind == "END":
            raise self.fail("empty query", 0)
        node = self.or_expr(DEFAULT_FIELDS)
        tok = self.peek()
        if tok.kind == "RPAREN":
            raise self.fail("unbalanced parenthesis", tok.pos)
        if tok.kind != "END":  # pragma: no cover - every other token starts an operand
            raise self.fail(f"unexpected {tok.text!r}", tok.pos)
        return node

    def or_expr(self, fields: frozenset[str]) -> Node:
        parts = [self.and_expr(fields)]
        while self.peek().kind == "OR":
            op = self.take()
            if self.peek().kind not in self._STARTS:
                raise self.fail("'OR' needs a term after it", op.pos)
            parts.append(self.and_expr(fields))
        return parts[0] if len(parts) == 1 else Or(_flatten(Or, parts))

    def and_expr(self, fields: frozenset[str]) -> Node:
        parts = [self.unary(fields)]
        while True:
            tok = self.peek()
            if tok.kind == "AND":
                self.take()
                if self.peek().kind not in self._STARTS:
                    raise self.fail("'AND' needs a term after it", tok.pos)
            elif tok.kind not in self._STARTS:
                break
            parts.append(self.unary(fields))
        return parts[0] if len(parts) == 1 else And(_flatten(And, parts))

    def unary(self, fields: frozenset[str]) -> Node:
        tok = self.peek()
        if tok.kind in ("NOT", "MINUS"):
            self.take()
            if self.peek().kind not in self._STARTS:
                raise self.fail(f"{tok.text!r} needs a term after it", tok.pos)
            self.nest(tok)
            node = self.unary(fields)
            self.depth -= 1
            return Not(node, tok.pos)
        return self.primary(fields)

    def primary(self, fields: frozenset[str]) -> Node:
        tok = self.take()
        if tok.kind == "FIELD":
            if tok.text not in FIELDS:
                known = ", ".join(FIELDS)
                raise self.fail(f"unknown field '{tok.text}:' (known: {known})", tok.pos)
            nxt = self.peek()
            if nxt.pos != tok.end or nxt.kind not in ("TERM", "PHRASE", "LPAREN"):
                raise self.fail(f"empty field '{tok.text}:'", tok.pos)
            self.nest(tok)
            node = self.primary(frozenset({tok.text}))
            self.depth -= 1
            return node
        if tok.kind in ("TERM", "PHRASE"):
            return _make_term(self.query, tok, fields)
        if tok.kind == "LPAREN":
            if self.peek().kind == "RPAREN":
                raise self.fail("empty parentheses", tok.pos)
            if self.peek().kind not in self._STARTS:
                bad = self.peek()
                raise self.fail(_dangling(bad), bad.pos)
            self.nest(tok)
            node = self.or_expr(fields)
            if self.peek().kind != "RPAREN":
                raise self.fail("unbalanced parenthesis", tok.pos)
            self.take()
            self.depth -= 1
            return node
        if tok.kind == "END":
            raise self.fail("query ends where a term was expected", tok.pos)
        raise self.fail(_dangling(tok), tok.pos)


def _dangling(tok: _Tok) -> str:
    if tok.kind in ("AND", "OR"):
        return f"'{tok.kind}' needs a term before it"
    if tok.kind == "RPAREN":
        return "unbalanced parenthesis"
    return f"unexpected {tok.text!r}"  # pragma: no cover


def _flatten(kind: type[And] | type[Or], parts: list[Node]) -> tuple[Node, ...]:
    out: list[Node] = []
    for p in parts:
        if isinstance(p, kind):
            out.extend(p.operands)
        else:
            out.append(p)
    return tuple(out)


def parse_query(query: str) -> Query:
    """Parse a topic query; raises QueryError with the 0-based offset of the problem."""
    return Query(query, _Parser(query).parse())
