"""An answer's score read from ``value[x]``."""

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from trdnav.fhir.map_scores import _score
from trdnav.fhir.mapping import Context
from trdnav.fhir.report import ImportReport


@given(value=st.one_of(st.integers(), st.integers(-(2**40), 2**40)))
def test_an_integer_answer_is_its_score_as_the_readers_read_numbers(fhir_codes, kb, value):
    """Numbers are read as floats: an integer too large for a float reads as the float's."""
    ctx = Context(fhir_codes, kb, date(2025, 6, 1), ImportReport())
    reader = ctx.reader("Observation/o1")
    assert _score(ctx, reader, {"valueInteger": value}, "") == int(float(value))
    assert ctx.problems == []


def test_other_answers_are_read_by_their_kind(fhir_codes, kb):
    ctx = Context(fhir_codes, kb, date(2025, 6, 1), ImportReport())
    reader = ctx.reader("Observation/o1")
    assert _score(ctx, reader, {"valueInteger": 2.0}, "") == 2
    assert _score(ctx, reader, {"valueDecimal": 3}, "") == 3
    assert _score(ctx, reader, {"valueString": " 1 "}, "") == 1
    assert _score(ctx, reader, {"valueInteger": True}, "") is None
    assert _score(ctx, reader, {"valueInteger": 1.5}, "") is None
    # True is not a number, so not a score; 1.5 is a number but not a whole one
    assert [(p.path, p.expected) for p in ctx.problems] == [
        ("Observation/o1.valueInteger", "a number"),
        ("Observation/o1.valueInteger", "a whole-number score"),
        ("Observation/o1.valueInteger", "a whole-number score"),
    ]
    reader = ctx.reader("QuestionnaireResponse/q1")
    assert (
        _score(ctx, reader, {"valueQuantity": {"value": "2"}}, "item[linkId=x].answer[0].") is None
    )
    assert (
        ctx.problems[-1].path
        == "QuestionnaireResponse/q1.item[linkId=x].answer[0].valueQuantity.value"
    )
