"""A MedicationRequest of the plain shape most orders have is read the short way: the same
trial, report and problems as reading it element by element."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from trdnav.fhir.map_medications import MedicationState, _plain_order, read_medication
from trdnav.fhir.mapping import Context, Source
from trdnav.fhir.report import ImportReport

from .conftest import RXNORM
from .odd_elements import give_odd_values

SERTRALINE = "36437"


def _order(**changes: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": "mr1",
        "status": "completed",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": SERTRALINE}]},
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2024-02-01",
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 100, "unit": "mg"}}],
            }
        ],
        "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "unit": "days", "code": "d"}},
    }
    order.update(changes)
    return order


def _read(fhir_codes: Any, kb: Any, res: dict[str, Any], plain: bool) -> tuple[Any, ...]:
    ctx = Context(fhir_codes, kb, date(2025, 6, 1), ImportReport())
    state = MedicationState()
    src = Source("MedicationRequest/mr1", "bundle: entry[0].resource", 1)
    read_medication(ctx, state, res, src, "MedicationRequest", plain_orders=plain)
    return state.pending, ctx.problems, ctx.report.to_json()


def test_a_typical_order_is_read_the_short_way_with_its_dose_and_period(fhir_codes, kb):
    res = _order()
    assert _plain_order(Context(fhir_codes, kb, date(2025, 6, 1), ImportReport()), res)
    (trial,), problems, _ = _read(fhir_codes, kb, res, plain=True)
    assert problems == []
    assert (trial.daily_dose, trial.start, trial.end) == (100.0, date(2024, 2, 1), date(2024, 3, 1))
    assert _read(fhir_codes, kb, res, plain=False) == _read(fhir_codes, kb, res, plain=True)


def test_an_order_the_short_way_does_not_read_is_read_element_by_element(fhir_codes, kb):
    ctx = Context(fhir_codes, kb, date(2025, 6, 1), ImportReport())
    bounded = _order()
    bounded["dosageInstruction"][0]["timing"]["repeat"]["boundsPeriod"] = {"start": "2024-03-01"}
    for res in (
        bounded,
        _order(dispenseRequest={"quantity": {"value": 60}}),
        _order(dosageInstruction=[{"text": "one a day"}]),
    ):
        assert _plain_order(ctx, res) is None
    (trial,), _, _ = _read(fhir_codes, kb, bounded, plain=True)
    assert trial.start == date(2024, 3, 1)


_ODD = st.one_of(
    st.sampled_from([0, -1, 0.0, 1e300, True, "2", None, "mg", "x", 5]),
    st.builds(list),
    st.builds(dict, value=st.just(1)),
)
"""Values an element of an order should not have (and a few it may)."""
_PLACES = [
    ("status",),
    ("intent",),
    ("authoredOn",),
    ("dosageInstruction",),
    ("dosageInstruction", 0),
    ("dosageInstruction", 0, "timing"),
    ("dosageInstruction", 0, "timing", "repeat"),
    ("dosageInstruction", 0, "timing", "repeat", "frequency"),
    ("dosageInstruction", 0, "timing", "repeat", "period"),
    ("dosageInstruction", 0, "timing", "repeat", "periodUnit"),
    ("dosageInstruction", 0, "timing", "repeat", "frequencyMax"),
    ("dosageInstruction", 0, "timing", "repeat", "timeOfDay"),
    ("dosageInstruction", 0, "timing", "code"),
    ("dosageInstruction", 0, "doseAndRate"),
    ("dosageInstruction", 0, "doseAndRate", 0),
    ("dosageInstruction", 0, "doseAndRate", 0, "doseQuantity"),
    ("dosageInstruction", 0, "doseAndRate", 0, "doseQuantity", "value"),
    ("dosageInstruction", 0, "doseAndRate", 0, "doseQuantity", "unit"),
    ("dosageInstruction", 0, "doseAndRate", 0, "doseRange"),
    ("dosageInstruction", 0, "sequence"),
    ("dosageInstruction", 0, "asNeededBoolean"),
    ("dispenseRequest",),
    ("dispenseRequest", "expectedSupplyDuration"),
    ("dispenseRequest", "expectedSupplyDuration", "value"),
    ("dispenseRequest", "expectedSupplyDuration", "code"),
    ("dispenseRequest", "quantity"),
    ("dispenseRequest", "numberOfRepeatsAllowed"),
    ("dispenseRequest", "validityPeriod"),
    ("extension",),
    ("statusReason",),
]


@st.composite
def _orders(draw: st.DrawFn) -> dict[str, Any]:
    """Plain orders of many doses, frequencies and supplies; and such orders with one to
    three elements given an odd value (or removed, for None)."""
    res = _order(status=draw(st.sampled_from(["completed", "active", "stopped", "on-hold"])))
    repeat = {
        "frequency": draw(st.integers(1, 4)),
        "period": draw(st.sampled_from([1, 2, 0.5, 1.5])),
        "periodUnit": draw(st.sampled_from(["d", "wk", "h", "mo"])),
    }
    dose = {"value": draw(st.sampled_from([10, 25, 37.5, 100, 0.5])), "unit": "mg"}
    if draw(st.booleans()):
        dose = {"value": dose["value"], "code": draw(st.sampled_from(["mg", "g", "Milligram"]))}
    res["dosageInstruction"] = [
        {"timing": {"repeat": repeat}, "doseAndRate": [{"doseQuantity": dose}], "text": "daily"}
    ]
    supply = {
        "value": draw(st.sampled_from([30, 90, 4.5])),
        "code": draw(st.sampled_from(["d", "wk", "mo", "a"])),
    }
    res["dispenseRequest"] = draw(
        st.sampled_from([{"expectedSupplyDuration": supply}, {}, {"numberOfRepeatsAllowed": 2}])
    )
    return give_odd_values(draw, res, _PLACES, _ODD)


@settings(max_examples=400, deadline=None)
@given(res=_orders())
def test_an_order_read_the_short_way_is_read_as_element_by_element(fhir_codes, kb, res):
    assert _read(fhir_codes, kb, res, plain=True) == _read(fhir_codes, kb, res, plain=False)
