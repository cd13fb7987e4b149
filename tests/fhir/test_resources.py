from datetime import date

import pytest

from trdnav.errors import InputError
from trdnav.fhir.elements import read_moment
from trdnav.fhir.resources import Located, patient_records
from trdnav.measures.records import Age, AgeRange
from trdnav.measures.timing import Moment, Span


def located(*resources, group="bundle.json"):
    return [
        Located(r, f"{group}: entry[{i}].resource", f"urn:uuid:{r.get('id')}", group)
        for i, r in enumerate(resources)
    ]


PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "2010-06-01"}


def obs(**fields):
    return {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
        "effectiveDateTime": "2025-02-25T10:00:00Z",
        "valueInteger": 12,
        "subject": {"reference": "Patient/p1"},
        **fields,
    }


def test_resources_are_read_into_the_patient_record():
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": "urn:uuid:p1"},
        "category": [{"coding": [{"system": "x", "code": "encounter-diagnosis"}]}],
        "code": {
            "coding": [{"system": "http://snomed.info/sct", "code": "35489007"}, {"code": "x"}]
        },
        "onsetPeriod": {"start": "2024-12-01"},
        "abatementDateTime": "2025-06-01",
    }
    [patient] = patient_records(located(PATIENT, obs(), condition))
    assert patient.birth_date == Moment(date(2010, 6, 1))
    [o] = patient.observations
    assert (o.status, o.value_number, o.has_value) == ("final", 12.0, True)
    assert o.effective is not None
    assert o.effective.start == o.effective.end == read_moment("2025-02-25T10:00:00Z")
    [c] = patient.conditions
    assert [x.code for x in c.code] == ["35489007"]  # a coding without system cannot match
    assert c.onset == Span(Moment(date(2024, 12, 1)))
    assert c.abatement == Moment(date(2025, 6, 1))
    assert not c.is_problem


def test_every_problem_is_reported_with_its_path():
    bad = obs(
        status=5,
        effectiveDateTime="25 Feb 2025",
        valueInteger=1.5,
        code={"coding": "44261-6"},
    )
    encounter = {"resourceType": "Encounter", "id": "e1", "subject": {"reference": "Patient/p1"}}
    with pytest.raises(InputError) as info:
        patient_records(located(PATIENT, bad, encounter))
    lines = info.value.lines()
    assert "bundle.json: entry[1].resource.status: got 5; expected a non-empty string" in lines
    assert any(
        line.startswith('bundle.json: entry[1].resource.effectiveDateTime: got "25 Feb 2025"')
        for line in lines
    )
    assert "bundle.json: entry[1].resource.valueInteger: got 1.5; expected an integer" in lines
    assert 'bundle.json: entry[1].resource.code.coding: got "44261-6"; expected an array' in lines
    assert "bundle.json: entry[2].resource.status: missing; expected a string" in lines


def test_a_period_ending_before_it_starts_is_refused():
    encounter = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "period": {"start": "2025-02-25T10:00:00Z", "end": "2025-02-25T09:00:00Z"},
    }
    with pytest.raises(InputError, match=r"period.end: .*not before the period's start"):
        patient_records(located(PATIENT, encounter))


@pytest.mark.parametrize(
    ("start", "end", "refused"),
    [
        ("2025-03-15", "2025-03", False),  # March may end on the 31st
        ("2025-03-15T10:00:00Z", "2025-03-15", False),  # the day, not known to be before
        ("2025-03-15", "2025-02", True),
        ("2025-03-15T10:00:00Z", "2025-03-14", True),
    ],
)
def test_only_an_end_surely_before_the_start_is_refused(start, end, refused):
    encounter = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "period": {"start": start, "end": end},
    }
    if refused:
        with pytest.raises(InputError, match=r"period.end: .*not before the period's start"):
            patient_records(located(PATIENT, encounter))
    else:
        [patient] = patient_records(located(PATIENT, encounter))
        period = patient.encounters[0].period
        assert period is not None
        assert (period.start, period.end) == (read_moment(start), read_moment(end))


def test_ids_must_be_fhir_ids_and_patients_unique():
    with pytest.raises(InputError) as info:
        patient_records(located(PATIENT, {**PATIENT}, obs(id="../../etc")))
    lines = info.value.lines()
    assert any("entry[1].resource.id" in line and "only once" in line for line in lines)
    assert any("entry[2].resource.id" in line and "a FHIR id" in line for line in lines)


def test_resources_go_to_the_patient_they_reference_or_the_only_one_of_their_file():
    other = {**PATIENT, "id": "p2"}
    found = patient_records(
        located(PATIENT, obs(id="o1"), group="a.json")
        + located(other, obs(id="o2", subject=None), group="b.json")
        + located(obs(id="o3", subject={"reference": "Patient/p2"}), group="c.json")
        + located(obs(id="o4", subject={"reference": "http://x/fhir/Patient/999"}), group="a.json")
    )
    assert [(p.id, [o.id for o in p.observations]) for p in found] == [
        ("p1", ["o1", "o4"]),
        ("p2", ["o2", "o3"]),
    ]


def test_a_resource_with_no_patient_to_belong_to_is_an_error():
    two = located(PATIENT, {**PATIENT, "id": "p2"}, obs(subject={"reference": "Patient/p3"}))
    with pytest.raises(
        InputError, match=r"entry\[2\].resource.subject.reference: got \"Patient/p3\""
    ):
        patient_records(two)
    with pytest.raises(InputError, match=r"subject\.reference: missing"):
        patient_records(located(obs(subject=None)))


def test_types_the_measures_do_not_read_are_ignored_unchecked():
    coverage = {"resourceType": "Coverage", "id": 7, "status": ["odd"]}
    [patient] = patient_records(located(PATIENT, coverage, {"resourceType": "MeasureReport"}))
    assert patient.observations == ()


def test_medication_supply_is_read():
    order = {
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"coding": [{"system": "rx", "code": "1"}]},
        "authoredOn": "2026-06-21",
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "tablet"}}],
            }
        ],
        "dispenseRequest": {"quantity": {"value": 60}, "numberOfRepeatsAllowed": 1},
    }
    [patient] = patient_records(located(PATIENT, order))
    supply = patient.medication_requests[0].supply
    assert (supply.frequency, supply.period, supply.period_unit) == (2, 1.0, "d")
    assert (supply.dose, supply.quantity, supply.refills) == (1.0, 60.0, 1)


UCUM = "http://unitsofmeasure.org"


def condition_with(**timing):
    return {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "35489007"}]},
        **timing,
    }


@pytest.mark.parametrize(
    ("timing", "onset", "abatement"),
    [
        (
            {"onsetAge": {"value": 40, "unit": "years", "system": UCUM, "code": "a"}},
            Age(40, "year"),
            None,
        ),
        ({"onsetAge": {"value": 6, "code": "mo"}}, Age(6, "month"), None),
        ({"onsetAge": {"value": 3, "unit": "weeks"}}, Age(3, "week"), None),
        (
            {
                "onsetRange": {
                    "low": {"value": 40, "system": UCUM, "code": "a"},
                    "high": {"value": 45, "system": UCUM, "code": "a"},
                },
                "abatementRange": {"high": {"value": 50, "system": UCUM, "code": "a"}},
            },
            AgeRange(Age(40, "year"), Age(45, "year")),
            AgeRange(None, Age(50, "year")),
        ),
        ({"abatementAge": {"value": 41, "code": "a"}}, None, Age(41, "year")),
        # what the measures' CQL cannot use (it stops with an error) is taken as not given
        ({"onsetAge": {"value": 40, "comparator": "<", "code": "a"}}, None, None),
        ({"onsetAge": {"value": 40, "system": "http://snomed.info/sct", "code": "a"}}, None, None),
        ({"onsetAge": {"value": 40, "code": "kg"}}, None, None),
        ({"onsetAge": {"code": "a"}}, None, None),
        ({"onsetRange": {"low": {"value": 4, "code": "cm"}}}, None, None),
        ({"onsetString": "in childhood", "abatementBoolean": True}, None, None),
    ],
)
def test_onset_and_abatement_as_an_age_or_a_range_of_ages(timing, onset, abatement):
    [patient] = patient_records(located(PATIENT, condition_with(**timing)))
    [c] = patient.conditions
    assert (c.onset, c.abatement) == (onset, abatement)


def test_an_age_whose_value_is_not_a_number_is_refused():
    with pytest.raises(InputError, match=r"onsetAge.value: got \"forty\"; expected a number"):
        patient_records(located(PATIENT, condition_with(onsetAge={"value": "forty"})))
