"""CodeableConcepts read as terms: canonical systems, words, and every problem named."""

from datetime import date

import pytest

from trdnav.fhir.mapping import Context, read_term
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
