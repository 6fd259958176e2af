"""Topic matching: the query language, folding, the one-pass matcher and `explain`."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from syndicator.errors import QueryError
from syndicator.match import Matcher, compile_topics, explain_match, fold, parse_query, words
from syndicator.match.acronyms import HEADS
from syndicator.match.explain import Word, evaluate, find_term, words_with_spans
from syndicator.match.query import WORD_RE, Node, Not, Term
from syndicator.model import Topic, TopicHit
from tests.conftest import DATA

SEED = DATA / "seed" / "nato-japan-liaison-office.de.txt"

SHY = "\u00ad"  # soft hyphen
NBSP = "\u00a0"

# (query, text, expected) — the text is the entry's content; the title is empty.
CASES: list[tuple[str, str, bool]] = [
    # --- German: whole words and compound parts, never substrings
    ("NATO", "Die NATO und Japan arbeiten zusammen.", True),
    ("NATO", "Die Nato-Staaten beraten.", True),
    ("NATO", "Eröffnung eines NATO-Verbindungsbüros in Tokio", True),
    ("NATO", "am Rande des NATO-Gipfels", True),
    ("NATO", "Eine Reise nach Anatolien.", False),
    ("NATO", "Der Regisseur Natoli dreht.", False),
    ("NATO", "Musik von Franco Donatoni.", False),
    ("NATO", "Der Senator sprach lange.", False),
    ("NATO", "Kur im sanatorium am See", False),
    ("NATO", "a generous donation to charity", False),
    ("Gipfel", "NATO-Gipfel in Vilnius", True),
    ("Gipfel", "Das Gipfeltreffen beginnt.", False),
    ("Herzegowina", "Bosnien-Herzegowina", True),
    ("Bosnien-Herzegowina", "in Bosnien\u2013Herzegowina", True),
    ("Bosnien-Herzegowina", "Bosnien und Herzegowina", False),
    ('"NATO Verbindungsbüro"', "das NATO-Verbindungsbüro", True),
    ('"Verbindungsbüro NATO"', "das NATO-Verbindungsbüro", False),
    ("NATO-Verbindungsbüro", "ein NATO Verbindungsbüro", True),
    # --- wildcard
    ("Indopazifi*", "im Indopazifik", True),
    ("Indopazifi*", "der indopazifischen Region", True),
    ("Indopazifi*", "Indopazifi", True),
    ("Indopazifi*", "Pazifik", False),
    ("Indopazifik", "im Indopazifik- Raum", True),
    ("Indopazifik", "der indopazifischen Region", False),
    ("Indo-Pazifi*", "im Indo-Pazifik", True),
    ("Indo-Pazifi*", "im Indo Pazifischen", True),
    ("Indo-Pazifi*", "im Indopazifik", True),  # closed, hyphenated, spaced: one spelling
    ('"Indo-Pazifi*"', "im indo\u2011pazifik", True),
    ("nato*", "NATO-led forces", True),
    ("nato*", "Anatolia", False),
    ("donation*", "donations rose", True),
    ("donation", "donations rose", False),
    ("senat*", "Senator Smith", True),
    ("Straß*", "die Straßenbahn", True),
    # --- soft hyphen, zero-width and invisible joiners are removed, not separators
    ("Verbindungsbüro", f"Ver{SHY}bindungs{SHY}büro", True),
    (f"Ver{SHY}bindungsbüro", "Verbindungsbüro", True),
    ("Verbindungs", f"Verbindungs{SHY}büro", False),
    ("NATO", "NA\u200bTO", True),
    # --- accents, ß, case, compatibility forms
    ("Verbindungsbüro", "Verbindungsburo", True),
    ("Übersee", "ubersee", True),
    ("ubersee", "ÜBERSEE", True),
    ("Straße", "Strasse", True),
    ("STRASSE", "an der Straße", True),
    ("nAtO", "NATO", True),
    ("NATO", "\uff2e\uff21\uff34\uff2f im Vollbreitensatz", True),
    ("finance", "ﬁnance ministers", True),
    # --- lowercase and/or/not are plain words; uppercase are operators
    ("and", "rock and roll", True),
    ("and", "rock roll", False),
    ("or", "either or", True),
    ("not", "not me", True),
    ("NATO or Japan", "NATO and Japan", False),
    ("NATO and Japan", "NATO and Japan", True),
    # --- AND / OR / NOT, implicit AND, precedence, parentheses
    ("NATO AND Japan", "Japan und NATO", True),
    ("NATO Japan", "Nur Japan", False),
    ("NATO Japan", "Japan, NATO", True),
    ("NATO -Ukraine", "NATO und Ukraine", False),
    ("NATO -Ukraine", "NATO und Japan", True),
    ("NATO NOT Ukraine", "NATO hilft", True),
    ("NATO AND NOT (Ukraine OR Russland)", "NATO und Russland", False),
    ("NATO AND NOT (Ukraine OR Russland)", "NATO und Japan", True),
    ("rock roll OR jazz", "jazz", True),
    ("rock roll OR jazz", "rock", False),
    ("rock (roll OR jazz)", "jazz", False),
    ("rock (roll OR jazz)", "rock jazz", True),
    ("NOT rock roll", "roll", True),
    ("NOT rock roll", "rock roll", False),
    ("NOT (rock roll)", "rock", True),
    ("NOT NOT NATO", "NATO", True),
    ("NOT sport", "weather report", True),
    ("NOT sport", "sport news", False),
    ("NOT sport", "sports news", True),
    ("-sport", "politics", True),
    # --- English: phrases and every dash / space variant
    ('"Indo-Pacific"', "the Indo-Pacific region", True),
    ('"Indo-Pacific"', "the Indo Pacific region", True),
    ('"Indo-Pacific"', "the Indo\u2011Pacific region", True),
    ('"Indo-Pacific"', "the indo\u2013pacific region", True),
    ('"Indo-Pacific"', "the Indo—Pacific region", True),
    ('"Indo-Pacific"', "the Indo\u2010Pacific region", True),
    ('"Indo-Pacific"', "the Indo\u2012Pacific region", True),
    ('"Indo-Pacific"', "the Indo\u2212Pacific region", True),
    ('"Indo-Pacific"', f"the Indo{NBSP}Pacific region", True),
    ('"Indo-Pacific"', "the Indo\u202fPacific region", True),
    ('"Indo-Pacific"', "the Indo\u2009Pacific region", True),
    ('"Indo-Pacific"', "the Indo -\n Pacific region", True),
    ('"Indo-Pacific"', "IndoPacific", True),
    ('"Indo-Pacific"', "Pacific Indo", False),
    ("Indo-Pacific", "the Indo\u2011Pacific", True),
    ("Indo\u2011Pacific", "the indo pacific", True),
    ('"Indo Pacific"', f"Indo{NBSP}Pacific", True),
    ('"United Nations"', "the United Nations said", True),
    ('"United Nations"', "nations united", False),
    ("NATO", "NATO's new office", True),
    ("NATO", "NATO\u2019s new office", True),
    ("NATO\u2019s", "NATO's new office", True),
    ("G7", "the G7 summit", True),
    ("COVID-19", "COVID 19 cases", True),
    ("foo", "foo_bar", True),
    ("Senator", "the senator said", True),
    # --- French
    ("Indo-Pacifique", "la stratégie pour l'Indo-Pacifique", True),
    ("Indo-Pacifique", "dans l\u2019indo\u2011pacifique", True),
    ("indo-pacifique", "INDO-PACIFIQUE", True),
    ("Pacifique", "l\u2019Indo-Pacifique", True),
    ("OTAN", "le sommet de l\u2019OTAN", True),
    ("OTAN", "d'OTAN", True),
    ("OTAN", "l'Otanie imaginaire", False),
    ("sécurité", "securite", True),
    ("securite", "SÉCURITÉ", True),
    ("Élysée", "à l'elysee", True),
    ("aujourd'hui", "aujourd\u2019hui", True),
    ("défens*", "les défenses", True),
    ("cessez-le-feu", "un cessez le feu", True),
    ("œuvre", "une oeuvre", True),
    ("(NATO OR OTAN) AND (Japan OR Japon)", "l'OTAN et le Japon", True),
    ("(NATO OR OTAN) AND (Japan OR Japon)", "l'OTAN et la Corée", False),
    # --- Spanish
    ("España", "espana", True),
    ("espana", "ESPAÑA", True),
    ("OTAN", "la OTAN.", True),
    ("Indo-Pacífico", "el Indo\u2011Pacífico", True),
    ("Indo-Pacífico", "el indopacífico", True),
    ("migración", "la migracion", True),
    ("sequía", "SEQUÍA", True),
    # --- Italian
    ("NATO", "il regista Natoli", False),
    ("Natoli", "il regista Natoli", True),
    ("NATO", "in Anatolia", False),
    ("NATO", "dell'Alleanza NATO", True),
    ("perché", "perche", True),
    ("città", "CITTÀ", True),
    ("l'Alleanza", "l\u2019alleanza", True),
    # --- Polish
    ("Łódź", "Lodz", True),
    ("lodz", "ŁÓDŹ", True),
    ("bezpieczeństwo", "bezpieczenstwo", True),
    ("NATO", "NATO-wskie manewry", True),
    ("zażółć", "ZAZOLC", True),
    # --- Portuguese
    ('"São Paulo"', "sao paulo", True),
    ('"São Paulo"', "Paulo São", False),
    ("ação", "acao", True),
    # --- compounds and hyphens as people write them: a term matches a run of whole words that
    # spells its letters, wherever the text breaks them (issue 17)
    ("Indopazifik", "die Indo-Pazifik-Strategie der Bundesregierung", True),
    ("Indopazifik", "im Indo Pazifik", True),
    ("Indopazifik", "im Indo\u2011Pazifik", True),
    ("Indopazifik", "im Indo -\nPazifik", True),
    ("Indo-Pazifik", "im Indopazifik", True),
    ('"Indo Pazifik"', "im Indopazifik", True),
    ("Indopazifik", "die Indopazifikstrategie", False),  # a closed compound is one word
    ("Indopazifik*", "die Indopazifikstrategie", True),
    ("Indopazifik*", "die Indo-Pazifik-Strategie", True),
    ("Indopazifik", "Indonesien und der Pazifik", False),
    ("Indopazifik", "Indo und Pazifik", False),
    ("Indopazifik", "Indopa zifikant", False),  # the run ends where a word ends
    ("Nordstream", "die Pipeline Nord Stream 2", True),
    ("Email", "per E-Mail", True),
    ("E-Mail", "per Email", True),
    ("COVID-19", "Covid19-Fälle", True),
    ("2:1", "Endstand 2-1", True),
    ("2:1", "ein 21-Jähriger", False),  # between two digits a break counts
    ("21", "Endstand 2:1", False),
    ("Nato-Gipfel", "beim Natogipfel", True),
    ("NATO", "die Natoerweiterung", True),  # an acronym heads a closed compound of a known noun
    ("NATO", "die Natostaaten und ihre Partner", True),
    ("NATO", "der Natogeneralsekretär", True),
    ("UNO", "im Unosicherheitsrat", True),
    ("EU", "die Eukommission", True),
    ("NATO", "ein Palast in Natolin", False),
    ("NATO", "die Philosophie Paul Natorps", False),
    ("NATO", "die Natoerweiterungsdebatte", False),  # only the listed nouns, whole
    ("Nato", "die Natoerweiterung", False),  # typed as a word, not as an acronym
    ("nato", "die Natoerweiterung", False),
    ("NATO*", "Natolin", True),  # a wildcard is a wildcard
    ("UN", "Unrat am Strand", False),
    ("UN", "Unrecht verjährt nicht", False),
    ("UNO", "in heller Unordnung", False),
    ("EU", "Europa wählt", False),
    ("IS", "Reise nach Island", False),
    ("USA", "Usability-Tests", False),
    # English
    ('"Indo-Pacific"', "an Indopacific strategy", True),
    ("Indopacific", "the Indo-Pacific region", True),
    ("ceasefire", "a cease-fire in Gaza", True),
    ("ceasefire", "a cease fire in Gaza", True),
    ("cease-fire", "the ceasefire holds", True),
    ("cyberattack", "a cyber attack on the port", True),
    ("ceasefire", "cease all fire", False),
    ("cyberattack", "cyber attacks", False),
    ('"9/11"', "after 9/11", True),
    ('"9/11"', "call 911 now", False),
    ("NATO", "the Natolin palace in Warsaw", False),
    # French
    ("Indopacifique", "la stratégie pour l\u2019Indo-Pacifique", True),
    ('"Indo-Pacifique"', "dans l'indopacifique", True),
    ("week-end", "ce weekend à Paris", True),
    ("weekend", "ce week-end à Paris", True),
    ("OTAN", "l'otanisation de l'Europe", False),
    ("weekend", "une semaine, un week", False),
    # Dutch
    ("Indopacifisch*", "in het Indo-Pacifische gebied", True),
    ("zeearend", "een zee-arend gespot", True),
    ("coronacrisis", "tijdens de corona-crisis", True),
    ("NAVO", "de NAVO-top in Vilnius", True),
    ("NAVO", "de navolging van het besluit", False),
    ("coronacrisis", "de corona crisissen", False),
    # Italian
    ("Indopacifico", "la strategia per l'Indo-Pacifico", True),
    ('"Indo-Pacifico"', "nell'indopacifico", True),
    ("antimafia", "la commissione anti-mafia", True),
    ("euroatlantic*", "l'alleanza euro-atlantica", True),
    ("NATO", "il neonato sta bene", False),
    ("antimafia", "anti e mafia", False),
    # --- other scripts
    ("Αθήνα", "ΑΘΗΝΑ", True),
    ("Ελλάς", "ΕΛΛΑΣ", True),
    ("İstanbul", "istanbul", True),
    ("北大西洋", "日本と北大西洋条約機構\uff08NATO\uff09", True),
    ("NATO", "日本と北大西洋条約機構\uff08NATO\uff09", True),
]

# (query, title, content, source, expected)
FIELD_CASES: list[tuple[str, str, str, str, bool]] = [
    ("NATO", "NATO summit", "", "", True),
    ("title:NATO", "NATO summit", "", "", True),
    ("title:NATO", "Summit", "NATO met", "", False),
    ("content:NATO", "NATO", "", "", False),
    ("content:NATO", "", "NATO met", "", True),
    ("source:heise", "x", "", "heise online", True),
    ('source:"heise online"', "x", "", "heise online", True),
    ("source:heise", "heise", "heise", "BBC", False),
    ("heise", "x", "", "heise online", False),
    ("title:(NATO OR EU)", "EU summit", "", "", True),
    ("title:(NATO OR EU)", "summit", "EU", "", False),
    ("Title:Indo-Pacific", "the Indo\u2011Pacific", "", "", True),
    ("NATO -title:Ukraine", "Ukraine", "NATO", "", False),
    ("NATO -title:Ukraine", "Japan", "NATO Ukraine", "", True),
    ('"Japan NATO"', "Japan", "NATO", "", False),  # phrases never span title and content
]


def matches(query: str, title: str, text: str, source: str = "") -> bool:
    matcher = compile_topics([Topic("t", query)])
    return bool(matcher.match(title, text, source))


def test_mark_tables_follow_this_pythons_unicode_database() -> None:
    """fold() strips combining marks and keeps the others inside words; the tables are read
    from unicodedata at import with one lookup per code point, which relies on every code point
    with a combining class being a mark."""
    import unicodedata

    from syndicator.match.query import _scan_marks

    strip: list[int] = []
    keep: list[int] = []
    for cp in range(0x20000):
        ch = chr(cp)
        if unicodedata.combining(ch):
            assert unicodedata.category(ch).startswith("M"), hex(cp)
            strip.append(cp)
        elif unicodedata.category(ch).startswith("M"):
            (strip if 0xFE00 <= cp <= 0xFE0F else keep).append(cp)
    strip.extend(range(0xE0100, 0xE01F0))
    assert _scan_marks() == (strip, keep)
    assert len(strip) > 1000 and len(keep) > 1000


def test_case_table_is_big_and_multilingual() -> None:
    assert len(CASES) + len(FIELD_CASES) >= 90


@pytest.mark.parametrize(("query", "text", "expected"), CASES)
def test_query_matches_text(query: str, text: str, expected: bool) -> None:
    assert matches(query, "", text) is expected
    assert evaluate(parse_query(query), "", text) is expected  # the reference agrees


@pytest.mark.parametrize(("query", "title", "text", "source", "expected"), FIELD_CASES)
def test_fields(query: str, title: str, text: str, source: str, expected: bool) -> None:
    assert matches(query, title, text, source) is expected
    assert evaluate(parse_query(query), title, text, source) is expected


# ------------------------------------------------------------------ malformed queries

MALFORMED: list[tuple[str, int, str]] = [
    ("", 0, "empty query"),
    ("   ", 0, "empty query"),
    ("(NATO", 0, "unbalanced parenthesis"),
    ("NATO)", 4, "unbalanced parenthesis"),
    ("a (b OR c", 2, "unbalanced parenthesis"),
    ("a ) b", 2, "unbalanced parenthesis"),
    ("(NATO))", 6, "unbalanced parenthesis"),
    ('"NATO', 0, "unbalanced quote"),
    ('a "b', 2, "unbalanced quote"),
    ("NATO AND", 5, "'AND' needs a term after it"),
    ("AND NATO", 0, "'AND' needs a term before it"),
    ("NATO OR", 5, "'OR' needs a term after it"),
    ("OR", 0, "'OR' needs a term before it"),
    ("NATO AND OR x", 5, "'AND' needs a term after it"),
    ("(AND x)", 1, "'AND' needs a term before it"),
    ("NOT", 0, "'NOT' needs a term after it"),
    ("a NOT", 2, "'NOT' needs a term after it"),
    ("*", 0, "bare '*'"),
    ("a *", 2, "bare '*'"),
    ("-*", 1, "bare '*'"),
    ("a*b", 1, "only allowed at the end"),
    ("a-*", 2, "must follow a letter or digit"),
    ("title:", 0, "empty field 'title:'"),
    ("title: x", 0, "empty field 'title:'"),
    ("x source:", 2, "empty field 'source:'"),
    ("title:NOT x", 0, "empty field 'title:'"),
    ("foo:bar", 0, "unknown field 'foo:'"),
    ("NATO http://x", 5, "unknown field 'http:'"),
    ("()", 0, "empty parentheses"),
    ("a ()", 2, "empty parentheses"),
    ('""', 0, "empty phrase"),
    ("-", 0, "no letters or digits"),
    ("NATO !!!", 5, "no letters or digits"),
    ("(" * 70 + "x" + ")" * 70, 64, "nests too deeply"),
]


@pytest.mark.parametrize(("query", "position", "message"), MALFORMED)
def test_malformed_query(query: str, position: int, message: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(query)
    assert info.value.position == position
    assert info.value.query == query
    assert message in str(info.value)
    assert str(info.value).endswith(f"at position {position}")


def test_quoting_searches_for_colon_words() -> None:
    assert matches('"foo:bar"', "", "foo: bar") is True
    assert matches("10:30", "", "um 10:30 Uhr") is True  # digits before ':' are no field


def test_compile_error_names_the_topic() -> None:
    good = Topic("ok", "Japan")
    with pytest.raises(QueryError) as info:
        compile_topics([good, Topic("nato", "NATO OR (Japan")])
    assert str(info.value) == "topic 'nato': unbalanced parenthesis at position 8"
    assert info.value.position == 8
    assert info.value.query == "NATO OR (Japan"


# ------------------------------------------------------------------ Matcher and TopicHit


def test_matcher_returns_hits_in_config_order_with_terms_in_query_order() -> None:
    matcher = compile_topics(
        [
            Topic("asia", "Japan OR Indopazifi* OR Korea"),
            Topic("none", "Fußball"),
            Topic("nato", 'NATO AND ("Indo-Pacific" OR Indopazifik) -Fußball'),
            Topic("quiet", "NOT Fußball"),
            Topic("twice", "NATO OR (NATO Japan)"),
            Topic("negated", "Japan AND NOT (NATO AND Fußball)"),
        ]
    )
    assert isinstance(matcher, Matcher)
    hits = matcher.match("Japan und die NATO", "Die NATO im Indopazifik.", "Tagesschau")
    assert hits == (
        TopicHit("asia", ("Japan", "Indopazifi*")),
        TopicHit("nato", ("NATO", "Indopazifik")),
        TopicHit("quiet", ()),
        TopicHit("twice", ("NATO", "Japan")),
        TopicHit("negated", ("Japan",)),
    )
    assert matcher.match("", "") == (TopicHit("quiet", ()),)


def test_same_term_with_different_fields_is_kept_apart() -> None:
    matcher = compile_topics([Topic("t", "title:NATO"), Topic("c", "content:NATO")])
    assert matcher.match("NATO", "") == (TopicHit("t", ("NATO",)),)
    assert matcher.match("", "NATO") == (TopicHit("c", ("NATO",)),)


def test_a_label_written_twice_is_reported_once_whichever_matched() -> None:
    matcher = compile_topics([Topic("t", "title:NATO OR NATO OR title:(NATO Japan)")])
    assert matcher.match("", "Die NATO") == (TopicHit("t", ("NATO",)),)
    assert matcher.match("NATO Japan", "") == (TopicHit("t", ("NATO", "Japan")),)


def test_no_topics_match_nothing() -> None:
    assert compile_topics([]).match("NATO", "NATO", "NATO") == ()


def test_nested_wildcards_all_match() -> None:
    matcher = compile_topics([Topic("a", "ind*"), Topic("b", "indopaz*"), Topic("c", "indu*")])
    assert [h.topic for h in matcher.match("", "Indopazifik")] == ["a", "b"]


# ------------------------------------------------------------------ the seed article


def test_seed_article() -> None:
    text = SEED.read_text(encoding="utf-8")
    matcher = compile_topics(
        [
            Topic("nato", "NATO"),
            Topic("wild", "Indopazifi*"),
            Topic("exact", "Indopazifik"),
            Topic("any", '"Indo-Pacific" OR Indopazifi* OR Indo-Pacifique'),
            Topic("trap", "Anatolien OR Senator"),
        ]
    )
    hits = matcher.match("NATO und Japan", text, "example")
    assert [h.topic for h in hits] == ["nato", "wild", "exact", "any"]
    assert hits[3].terms == ("Indopazifi*",)


# ------------------------------------------------------------------ explain


def test_explain_match() -> None:
    text = SEED.read_text(encoding="utf-8")
    report = explain_match("NATO AND Indopazifi* -Fußball", text)
    first, *rest = report.splitlines()
    assert first.startswith("MATCH")
    assert "[Indopazifik]" in report
    assert "[NATO]-Verbindungsbüros" in report
    assert any("Fußball" in line and "not found" in line for line in rest)


def test_explain_no_match_and_fields() -> None:
    report = explain_match("title:NATO OR Senator", "Die NATO tagt.", title="Gipfel")
    assert report.splitlines()[0].startswith("NO MATCH")
    assert "title:NATO: not found" in report
    report = explain_match('"Indo-Pacific"', "in the Indo\u2011Pacific today")
    assert report.startswith("MATCH") and "[Indo\u2011Pacific]" in report


def test_explain_shows_a_term_spelt_over_several_words() -> None:
    report = explain_match(
        "Indopazifik OR NATO", "Die Indo-Pazifik-Strategie und die Natoerweiterung"
    )
    assert report.startswith("MATCH")
    assert "+ Indopazifik: matched 1 in content; words: Indo-Pazifik" in report
    assert "[Indo-Pazifik]-Strategie" in report
    assert "+ NATO: matched 1 in content; words: Natoerweiterung" in report


EVERYDAY = ["Unrat", "Unrecht", "Unfall", "Unland", "Unsicherheit", "Unfrieden", "Unruhen",
            "Unkosten", "Unwetter", "Unglück", "Unmenge", "unebene", "Unordnung", "Unternehmen",
            "Unterstützung", "Island", "Islam", "Eule", "Euter", "Europa", "Euro", "Usbekistan",
            "Kiel", "Kiste", "Wholesale", "Usability", "Arden", "Ordnung"]  # fmt: skip


@pytest.mark.parametrize("word", EVERYDAY)
def test_acronym_heads_never_make_an_everyday_word(word: str) -> None:
    """No word of the list is a short acronym followed by one of the nouns acronyms head."""
    for acronym in ("UN", "UNO", "EU", "IS", "US", "USA", "KI", "WHO", "ARD", "ORF"):
        assert not matches(acronym, "", word), (acronym, word)
    assert all(noun == fold(noun) and len(noun) >= 4 for noun in HEADS)


def test_explain_rejects_bad_query() -> None:
    with pytest.raises(QueryError):
        explain_match("(NATO", "text")


def test_words_map_back_to_the_original_text() -> None:
    text = f"Ver{SHY}bindungs\u00adbüro der NATO\u2019s — Indo\u2011Pacific"
    spans = words_with_spans(text)
    assert [w.text for w in spans] == words(text)
    assert [text[w.start : w.end] for w in spans][:2] == [f"Ver{SHY}bindungs{SHY}büro", "der"]


# ------------------------------------------------------------------ properties

PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(st.text())
def test_fold_is_idempotent_and_per_character(text: str) -> None:
    folded = fold(text)
    assert fold(folded) == folded
    assert "".join(fold(c) for c in text) == folded
    assert words(folded) == words(text)


FIXED = [
    "NATO",
    "Indopazifi*",
    '"Indo-Pacific" OR Indopazifi*',
    "title:(a OR b*) -source:c",
    "NOT sport",
    "北大西洋",
]
FIXED_MATCHER = compile_topics([Topic(str(i), q) for i, q in enumerate(FIXED)])


@PROPS
@given(st.text(), st.text(), st.text())
def test_matching_never_raises(title: str, text: str, source: str) -> None:
    hits = FIXED_MATCHER.match(title, text, source)
    assert all(isinstance(h, TopicHit) for h in hits)
    explain_match(FIXED[2], text, title, source)


QUERY_CHARS = st.sampled_from(list('ab NOTANDOR()"*-:title\u00ad\u2011\u2019é')) | st.characters()


@PROPS
@given(st.text(QUERY_CHARS, max_size=30))
def test_parse_query_only_raises_query_error(query: str) -> None:
    try:
        parsed = parse_query(query)
    except QueryError as exc:
        assert exc.position is not None and 0 <= exc.position <= len(query)
        return
    assert parsed.terms and all(t.words for t in parsed.terms)


LETTERS = st.characters(categories=["Lu", "Ll", "Lo"], max_codepoint=0x2FFFF)
SEPARATORS = st.sampled_from(
    [" ", "-", "\u2011", "\u2013", NBSP, ", ", ". ", "(", ")", "'", "\n", "/"]
)


@PROPS
@given(st.text(LETTERS, min_size=1, max_size=12), SEPARATORS, SEPARATORS, st.text(max_size=20))
def test_a_word_always_finds_itself(word: str, left: str, right: str, noise: str) -> None:
    assume(word not in ("AND", "OR", "NOT"))
    assume(words(word))
    text = f"{noise} {left}{word}{right} {noise}"
    assert matches(word, "", text)
    assert matches(f'"{word}"', "", text)
    assert matches(word, text, "")


PART = st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüßéñ", min_size=1, max_size=7)
JOINS = st.sampled_from(["", "-", " ", SHY, "\u2011", "\u2013", NBSP, "\n", " - ", "\u200b"])
NOISE = st.lists(
    st.sampled_from(["die", "the", "la", "in", "a", "Strategie", "region"]), max_size=3
)


@PROPS
@given(
    st.lists(PART, min_size=2, max_size=4), st.lists(JOINS, min_size=3, max_size=3), NOISE, NOISE
)
def test_a_compound_matches_its_closed_form_however_its_parts_are_joined(
    parts: list[str], joins: list[str], before: list[str], after: list[str]
) -> None:
    """Hyphens, spaces, soft hyphens and dashes between the parts of a compound never change
    whether the closed form, the hyphenated form or the spaced form of it matches."""
    joined = parts[0] + "".join(j + p for j, p in zip(joins, parts[1:], strict=False))
    text = " ".join([*before, joined, *after])
    closed = "".join(parts)
    assume(closed.upper() not in ("AND", "OR", "NOT"))
    for query in (closed, "-".join(parts), f'"{" ".join(parts)}"', closed[:-1] + "*"):
        assert matches(query, "", text), (query, text)
        assert evaluate(parse_query(query), "", text), (query, text)
    # and the closed text matches every way of writing the query
    assert matches("-".join(parts), "", " ".join([*before, closed, *after]))


SPELLING = ["nato", "NATO", "Nato", "na", "to", "lin", "Natolin", "Natoerweiterung",
            "erweiterung", "Anatolien", "Senator", "donation", "indo", "pazifik", "2", "1", "21",
            "UN", "rat", "Unrat", "EU", "ropa", "x"]  # fmt: skip
SPELL_SEP = [" ", "-", SHY, "\u2011", ", ", "'", "_", "", "/"]


@PROPS
@given(
    st.lists(st.tuples(st.sampled_from(SPELLING), st.sampled_from(SPELL_SEP)), max_size=10),
    st.lists(st.sampled_from(SPELLING), min_size=1, max_size=3),
    st.booleans(),
)
def test_a_query_never_matches_text_without_its_letters_in_order(
    pieces: list[tuple[str, str]], query_words: list[str], quoted: bool
) -> None:
    text = "".join(word + sep for word, sep in pieces)
    query = "-".join(query_words)
    query = f'"{query}"' if quoted else query
    assume(query not in ("AND", "OR", "NOT"))
    (term,) = parse_query(query).terms
    if matches(query, "", text):
        assert term.letters in "".join(words(text)), (query, text)


TRAPS = ["Anatolien", "Senator", "donation", "Natolin", "Natoli", "Natorp", "sanatorium",
         "Donatoni", "neonato", "Unrat", "Unrecht", "Unordnung", "Europa", "Island", "Usability",
         "lin", "erweiterung", "gipfel", "x"]  # fmt: skip


@PROPS
@given(st.lists(st.tuples(st.sampled_from(TRAPS), st.sampled_from(SPELL_SEP))))
def test_acronyms_never_match_the_words_that_contain_their_letters(
    pieces: list[tuple[str, str]],
) -> None:
    """Anatolien, Senator, donation, Natolin, Unrat ... however they are strung together."""
    text = "".join(word + sep for word, sep in pieces)
    for query in ("NATO", '"NATO"', "Nato", "UN", "UNO", "EU", "IS", "USA"):
        assert not matches(query, "", text), (query, text)
        assert not evaluate(parse_query(query), "", text), (query, text)


VOCAB = ["nato", "NATO", "Indo", "pacific", "Straße", "strasse", "été", "ete", "ab", "abc", "x",
         "Indopacific", "Natogipfel", "gipfel", "2", "1", "21"]  # fmt: skip
SEP = [" ", "-", "\u2011", SHY, "'", "\u2019", NBSP, ", ", "_"]


@st.composite
def texts(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.sampled_from(VOCAB), max_size=12))
    return "".join(p + draw(st.sampled_from(SEP)) for p in parts)


def _term() -> st.SearchStrategy[str]:
    word = st.sampled_from(VOCAB)
    return st.one_of(
        word,
        word.map(lambda w: w[:2] + "*"),
        st.tuples(word, word).map(lambda p: f'"{p[0]} {p[1]}"'),
        st.tuples(word, word).map(lambda p: f"{p[0]}-{p[1]}*"),
        st.tuples(st.sampled_from(["title:", "content:", "source:"]), word).map("".join),
    )


queries = st.recursive(
    _term(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"{p[0]} {p[1]}"),
        st.tuples(inner, inner).map(lambda p: f"({p[0]} OR {p[1]})"),
        st.tuples(inner, inner).map(lambda p: f"{p[0]} AND {p[1]}"),
        inner.map(lambda q: f"NOT ({q})"),
        inner.map(lambda q: f"title:({q})"),
    ),
    max_leaves=6,
)


def _reference_terms(node: Node, title: str, text: str, source: str) -> tuple[str, ...]:
    fields = {
        "title": words_with_spans(title),
        "content": words_with_spans(text),
        "source": words_with_spans(source),
    }
    out: dict[str, None] = {}

    def walk(n: Node, negated: bool) -> None:
        if isinstance(n, Term):
            if not negated and find_term(n, fields):
                out[n.label] = None
        elif isinstance(n, Not):
            walk(n.operand, not negated)
        else:
            for op in n.operands:
                walk(op, negated)

    walk(node, False)
    return tuple(out)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries, min_size=1, max_size=5), texts(), texts(), texts())
def test_matcher_agrees_with_reference(qs: list[str], title: str, text: str, source: str) -> None:
    topics = [Topic(f"t{i}", q) for i, q in enumerate(qs)]
    got = {h.topic: h.terms for h in compile_topics(topics).match(title, text, source)}
    for topic in topics:
        parsed = parse_query(topic.query)
        expected = evaluate(parsed, title, text, source)
        assert (topic.name in got) is expected, topic.query
        if expected:
            assert got[topic.name] == _reference_terms(parsed.root, title, text, source)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60))
def test_words_with_spans_maps_every_word_back_to_the_text(text: str) -> None:
    """The ASCII shortcut and the character cache give what folding each character gives."""
    folded, origin = "", []
    for i, ch in enumerate(text):
        folded += fold(ch)
        origin += [i] * len(fold(ch))
    expected = [
        Word(m.group(), origin[m.start()], origin[m.end() - 1] + 1)
        for m in WORD_RE.finditer(folded)
    ]
    assert words_with_spans(text) == expected
