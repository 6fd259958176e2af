"""The cleaner's document tree (syndicator/clean/tree.py).

The rules were written against bs4's tree over libxml2; tree.py builds its own, lighter one from
lxml. The property test holds it to bs4's shape on arbitrary sanitized markup: the same text, the
same serialization. bs4 stays a dependency (feed discovery uses it), so it is the reference here.
"""

from __future__ import annotations

import warnings

from bs4 import BeautifulSoup
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syndicator.clean import sanitize, tree
from syndicator.clean.tree import Element, Text

_TAGS = ["p", "div", "span", "a", "b", "pre", "ruby", "rt", "rp", "ul", "li", "table", "tr",
         "td", "br", "img", "h2", "figure", "figcaption", "blockquote", "textarea",
         "code"]  # fmt: skip
_ATTRS = ["", " class='share x'", " id='main'", " class=' a\tb '", " href='/x?a=1&amp;b=\"2\"'",
          " title='it&#39;s \"q\"'", " src='/i.jpg' alt='<a>'", " lang='de'"]  # fmt: skip
_TEXT = st.sampled_from(
    ["Wort", " ", "\n", "\t \n ", "  ", "&amp;", "&nbsp;", "&lt;b&gt;", ">", "é", "漢字", '"',
     "'", "Satz. ", "\r\n", "\x0c"]
)  # fmt: skip


def _element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda tag, attr, inner, close: (
            f"<{tag}{attr}>{''.join(inner)}" + (f"</{tag}>" if close else "")
        ),
        st.sampled_from(_TAGS),
        st.sampled_from(_ATTRS),
        st.lists(children, max_size=4),
        st.booleans(),  # unclosed tags: libxml2 repairs them
    )


MARKUP = st.lists(st.recursive(_TEXT, _element, max_leaves=30), max_size=5).map("".join)


def _consistent(root: Element) -> bool:
    """Every child knows its parent and its neighbours, as the contents lists order them."""
    for el in [root, *root.tags()]:
        kids = el.contents
        for i, kid in enumerate(kids):
            assert kid.parent is el
            assert kid.prev is (kids[i - 1] if i else None)
            assert kid.next is (kids[i + 1] if i + 1 < len(kids) else None)
    return True


def _bs4_body(markup: str) -> BeautifulSoup:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        soup = BeautifulSoup(f"<body>{markup}</body>", "lxml")
    assert soup.body is not None
    return soup.body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MARKUP)
def test_property_the_tree_has_the_text_and_markup_bs4_had(markup: str) -> None:
    safe = sanitize.sanitize_input(markup)
    parsed = tree.parse(safe)
    assert parsed is not None and _consistent(parsed.body)
    reference = _bs4_body(safe)
    assert tree.serialize(parsed.body) == reference.decode_contents()
    assert parsed.body.get_text() == reference.get_text()
    ours = parsed.body.tags()
    theirs = reference.find_all(True)
    assert [el.name for el in ours] == [el.name for el in theirs]
    for el, ref in zip(ours, theirs, strict=True):
        assert el.get_text() == ref.get_text(), el.name


def test_whitespace_runs_are_shaped_as_bs4_shaped_them() -> None:
    parsed = tree.parse("<p>a</p>  \n\t <p>b</p> \t <pre>  \n  x  </pre>\t")
    assert parsed is not None
    texts = [node.data for node in parsed.body.descendants() if isinstance(node, Text)]
    assert texts == ["a", "\n", "b", " ", "  \n  x  ", " "]


def test_ruby_annotations_are_kept_apart_from_the_text() -> None:
    parsed = tree.parse("<p>漢<ruby>字<rp>(</rp><rt>ji</rt><rp>)</rp></ruby>です</p>")
    assert parsed is not None
    (p,) = [el for el in parsed.body.tags() if el.name == "p"]
    assert p.get_text() == "漢字です"
    (rt,) = [el for el in parsed.body.tags() if el.name == "rt"]
    assert rt.get_text() == "ji"
    assert tree.serialize(p) == "漢<ruby>字<rp>(</rp><rt>ji</rt><rp>)</rp></ruby>です"


def test_a_document_deeper_than_libxml2_builds_loses_nothing() -> None:
    """libxml2 stops building a tree 256 levels down and drops the rest of the document; the
    parse is then redone through lxml's TreeBuilder, which has no such limit."""
    deep = "<div>" * 600 + "innen" + "</div>" * 600 + "<p>danach</p>"
    parsed = tree.parse(deep)
    assert parsed is not None
    assert parsed.body.get_text() == "innendanach"
    assert sum(el.name == "div" for el in parsed.body.tags()) == 600


def test_the_mapping_holds_what_selectors_need_in_document_order() -> None:
    markup = "<div class='a'><p>x</p><span id='b'>y</span></div><p class='c'>z</p>"
    keyed = tree.parse(markup, "keyed")
    assert keyed is not None
    assert [(el.name, el.attrs) for el in keyed.mapping.values()] == [
        ("div", {"class": "a"}),
        ("span", {"id": "b"}),
        ("p", {"class": "c"}),
    ]
    assert all(lx.tag == el.name for lx, el in keyed.mapping.items())
    every = tree.parse(markup, "all")
    assert every is not None
    assert [el.name for el in every.mapping.values()] == ["div", "p", "span", "p"]
    none = tree.parse(markup)
    assert none is not None and not none.mapping


def test_edits_keep_parents_and_children_in_step() -> None:
    parsed = tree.parse("<p>a<b>b<i>c</i></b>d</p>")
    assert parsed is not None
    (p,) = parsed.body.contents
    assert isinstance(p, Element)
    b = p.contents[1]
    assert isinstance(b, Element) and b.name == "b"
    b.unwrap()
    assert [type(n).__name__ for n in p.contents] == ["Text", "Text", "Element", "Text"]
    assert b.parent is None and b.prev is None and _consistent(parsed.body)
    i = p.contents[2]
    new = Text("C")
    i.replace_with(new)
    assert i.parent is None and p.get_text() == "abCd" and _consistent(parsed.body)
    figure = Element("figure")
    figure.append(p.contents[0])
    figure.append(p.contents[-1])
    assert figure.get_text() == "ad" and p.get_text() == "bC"
    assert _consistent(parsed.body) and _consistent(figure)
    p.contents[0].extract()
    assert p.get_text() == "C" and _consistent(p)
    p.extract()
    assert p.parent is None and parsed.body.contents == []
    assert tree.serialize(figure) == "ad" and tree.serialize(Element("br")) == ""
    holder = Element("div")
    holder.append(Element("br"))
    holder.append(Element("span", {"title": "a\"b'c", "class": "x"}))
    assert tree.serialize(holder) == '<br/><span class="x" title="a&quot;b\'c"></span>'
