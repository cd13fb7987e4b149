"""An Observation of the plain shape most have is read the short way: the same observation,
report and problems as reading it element by element."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from trdnav.fhir.map_scores import ScoreState, _plain_observation, read_observation
from trdnav.fhir.mapping import Context, Source
from trdnav.fhir.report import ImportReport

from .conftest import LOINC, PHQ9_ITEMS, SNOMED
from .odd_elements import give_odd_values

PANEL, TOTAL = "44249-1", "44261-6"


def _observation(code: str = PHQ9_ITEMS[0], **changes: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-03-01",
        "valueInteger": 2,
    }
    res.update(changes)
    return res


def _read(
    fhir_codes: Any, kb: Any, res: dict[str, Any], plain: bool, full_url: str | None = None
) -> tuple[Any, ...]:
    ctx = Context(fhir_codes, kb, date(2025, 6, 1), ImportReport())
    state = ScoreState()
    src = Source("Observation/o1", "bundle: entry[0].resource", 1)
    read_observation(ctx, state, res, src, full_url, plain=plain)
    return state.observations, ctx.problems, ctx.report.to_json()


def _context(fhir_codes: Any, kb: Any) -> Context:
    return Context(fhir_codes, kb, date(2025, 6, 1), ImportReport())


def test_an_item_and_a_panel_are_read_the_short_way(fhir_codes, kb):
    src = Source("Observation/o1", "here", 1)
    item = _plain_observation(_context(fhir_codes, kb), _observation(), src, "urn:uuid:1")
    assert item is not None
    assert (item.instrument, item.part, item.item, item.value) == ("PHQ-9", "item", 1, 2)
    assert item.moment is not None
    assert item.moment.day == date(2024, 3, 1)
    assert item.keys == ("Observation/o1", "urn:uuid:1")
    members = [{"reference": "Observation/o2"}, {"reference": "Observation/o3"}]
    panel = _observation(PANEL, hasMember=members)
    del panel["valueInteger"]
    read = _plain_observation(_context(fhir_codes, kb), panel, src, None)
    assert read is not None
    assert (read.part, read.value) == ("panel", None)
    assert read.members == ["Observation/o2", "Observation/o3"]
    for res in (_observation(), panel):
        assert _read(fhir_codes, kb, res, plain=True) == _read(fhir_codes, kb, res, plain=False)


def test_other_shapes_are_read_element_by_element(fhir_codes, kb):
    ctx = _context(fhir_codes, kb)
    src = Source("Observation/o1", "here", 1)
    for res in (
        _observation(status="preliminary"),  # not a final result: reported as ignored
        _observation(code="1234-5"),  # not an instrument's code
        _observation(valueInteger=2.5),  # a bad score: a problem
        _observation(effectiveDateTime="2024-13-01"),  # a bad date: a problem
        _observation(component=[]),
        _observation(hasMember=[{"display": "no reference"}]),
    ):
        assert _plain_observation(ctx, res, src, None) is None
        assert _read(fhir_codes, kb, res, plain=True) == _read(fhir_codes, kb, res, plain=False)
    _, problems, _ = _read(fhir_codes, kb, _observation(valueInteger=2.5), plain=True)
    assert [p.path for p in problems] == ["bundle: entry[0].resource.valueInteger"]


_ODD = st.one_of(
    st.sampled_from([0, -1, 3, 2**40, 2.0, True, "2", None, "final", "x", "2024-03-01"]),
    st.builds(list),
    st.builds(dict, reference=st.just("Observation/o9")),
    st.builds(dict, value=st.just(1)),
)
"""Values an element of an Observation should not have (and a few it may)."""
_PLACES = [
    ("status",),
    ("code",),
    ("code", "coding"),
    ("code", "coding", 0),
    ("code", "coding", 0, "system"),
    ("code", "coding", 0, "code"),
    ("code", "text"),
    ("effectiveDateTime",),
    ("effectiveInstant",),
    ("effectivePeriod",),
    ("valueInteger",),
    ("valueDecimal",),
    ("valueQuantity",),
    ("valueString",),
    ("valueCodeableConcept",),
    ("valueCoding",),
    ("component",),
    ("hasMember",),
    ("hasMember", 0),
    ("hasMember", 0, "reference"),
]


@st.composite
def _observations(draw: st.DrawFn) -> dict[str, Any]:
    """Plain items, totals and panels of many codes, dates and statuses; and such
    Observations with one to three elements given an odd value (or removed, for None)."""
    code = draw(st.sampled_from([*PHQ9_ITEMS, PANEL, TOTAL, "1234-5"]))
    system = draw(st.sampled_from([LOINC, LOINC, SNOMED, "http://loinc.org/"]))
    res = _observation(
        code,
        status=draw(st.sampled_from(["final", "amended", "corrected", "preliminary"])),
        effectiveDateTime=draw(
            st.sampled_from(["2024-03-01", "2024-03", "2024-03-01T10:00:00+02:00", "2024"])
        ),
        valueInteger=draw(st.integers(-1, 30)),
    )
    res["code"]["coding"][0]["system"] = system
    if draw(st.booleans()):
        res["code"]["text"] = "PHQ-9"
    if code == PANEL:
        del res["valueInteger"]
        count = draw(st.integers(0, 3))
        res["hasMember"] = [{"reference": f"Observation/m{n}"} for n in range(count)]
    return give_odd_values(draw, res, _PLACES, _ODD)


@settings(max_examples=400, deadline=None)
@given(res=_observations(), full_url=st.sampled_from([None, "urn:uuid:1"]))
def test_an_observation_read_the_short_way_is_read_as_element_by_element(
    fhir_codes, kb, res, full_url
):
    plain = _read(fhir_codes, kb, res, plain=True, full_url=full_url)
    assert plain == _read(fhir_codes, kb, res, plain=False, full_url=full_url)
