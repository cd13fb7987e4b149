"""CodeableConcepts read as terms: canonical systems, words, and every problem named."""

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trdnav.fhir.mapping import TERMS_KEPT, Context, read_term
from trdnav.fhir.report import ImportReport
from trdnav.measures.records import Coding

LOINC = "http://loinc.org"


@pytest.fixture
def ctx(fhir_codes, kb):
    return Context(fhir_codes, kb, date(2025, 6, 1), ImportReport())


def test_a_term_has_canonical_systems_and_its_words(ctx):
    alias, canonical = next(iter(ctx.codes.aliases.items()))
    value = {
        "coding": [
            {"system": alias, "code": "1", "display": "One"},
            {"code": "no-system"},
            {"system": LOINC, "code": "44261-6", "display": 7},
        ],
        "text": " PHQ-9 total ",
    }
    term = read_term(ctx, ctx.reader("Observation/o1"), value, "code")
    assert term.codings == (Coding(canonical, "1", "One"), Coding(LOINC, "44261-6"))
    assert [c.display for c in term.codings] == ["One", None]
    assert term.words == ("PHQ-9 total", "One")
    assert term.text == "PHQ-9 total"
    assert ctx.problems == []


@pytest.mark.parametrize(
    ("value", "paths"),
    [
        ({"coding": [{"system": LOINC, "code": "1"}, "x"]}, ["X/1.code.coding[1]"]),
        ({"coding": [{"system": LOINC, "code": ""}]}, ["X/1.code.coding[0].code"]),
        ({"coding": [{"system": 5, "code": "1"}]}, ["X/1.code.coding[0].system"]),
        ({"coding": {"system": LOINC}}, ["X/1.code.coding"]),
        ({"coding": [{"system": LOINC, "code": "1"}], "text": 3}, ["X/1.code.text"]),
        ("44261-6", ["X/1.code"]),
    ],
)
def test_a_bad_concept_is_reported_and_matches_nothing(ctx, value, paths):
    term = read_term(ctx, ctx.reader("X/1"), value, "code")
    assert [p.path for p in ctx.problems] == paths
    if not isinstance(value, dict) or "text" not in value:
        assert term.codings == ()


def test_a_concept_read_again_is_the_term_read_before_with_its_own_words(ctx):
    one = {"coding": [{"system": LOINC, "code": "44261-6", "display": "One"}]}
    first = read_term(ctx, ctx.reader("X/1"), one, "code")
    again = read_term(ctx, ctx.reader("X/2"), {"coding": [dict(one["coding"][0])]}, "code")
    assert again is first
    # Codings compare without their display; a Term read with another display or text is
    # another Term, with its own words.
    other = {"coding": [{"system": LOINC, "code": "44261-6", "display": "Uno"}], "text": "t"}
    term = read_term(ctx, ctx.reader("X/3"), other, "code")
    assert term.words == ("t", "Uno")
    assert [c.display for c in term.codings] == ["Uno"]
    assert read_term(ctx, ctx.reader("X/4"), one, "code").words == ("One",)


def test_the_terms_kept_are_bounded(ctx):
    for n in range(TERMS_KEPT + 10):
        value = {"coding": [{"system": LOINC, "code": f"bound-{n}"}]}
        term = read_term(ctx, ctx.reader("X/1"), value, "code")
        assert term.codings == (Coding(LOINC, f"bound-{n}"),)
    assert 0 < len(ctx.codes.terms) <= TERMS_KEPT


_SYSTEMS = st.sampled_from([LOINC, "http://snomed.info/sct", "urn:oid:2.16.840.1.113883.6.1"])
_CODING = st.fixed_dictionaries(
    {"system": _SYSTEMS, "code": st.sampled_from(["1", "2", "44261-6"])},
    optional={"display": st.one_of(st.sampled_from(["", "One", " Two "]), st.integers(0, 2))},
)


@settings(max_examples=200, deadline=None)
@given(
    codings=st.lists(_CODING, max_size=3),
    text=st.one_of(st.none(), st.sampled_from(["", "  ", "PHQ-9", " total "])),
)
def test_a_term_is_its_codings_canonical_and_its_words_however_often_read(
    fhir_codes, kb, codings, text
):
    ctx = Context(fhir_codes, kb, date(2025, 6, 1), ImportReport())
    value: dict = {"coding": codings}
    if text is not None:
        value["text"] = text
    aliases = ctx.codes.aliases
    displays = [c.get("display") if isinstance(c.get("display"), str) else None for c in codings]
    words = ([text.strip()] if text and text.strip() else []) + [d for d in displays if d]
    for _ in range(2):
        term = read_term(ctx, ctx.reader("X/1"), value, "code")
        assert [(c.system, c.code, c.display) for c in term.codings] == [
            (aliases.get(c["system"], c["system"]), c["code"], d)
            for c, d in zip(codings, displays, strict=True)
        ]
        assert term.words == tuple(words)
        assert term.text == (text.strip() if text and text.strip() else None)
    assert ctx.problems == []
