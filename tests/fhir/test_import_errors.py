"""Bad FHIR is refused with every problem named at its entry and element: other FHIR
versions, missing required elements, codes outside FHIR's required bindings, and values the
core refuses."""

import json
from datetime import date

import pytest

from trdnav.errors import InputError
from trdnav.fhir.imports import import_files


def problems(import_chart, data, **kwargs):
    with pytest.raises(InputError) as info:
        import_chart(data, **kwargs)
    return {p.path: p.expected for p in info.value.problems}


def test_an_r5_shape_and_an_r5_resource_type_are_named(chart, import_chart):
    chart.add(
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "subject": chart.subject,
            "medication": {"concept": {"text": "sertraline"}},
        }
    )
    chart.add({"resourceType": "MedicationUsage", "status": "recorded", "subject": chart.subject})
    found = problems(import_chart, chart.bundle())
    assert found["bundle: entry[1].resource.medication"].startswith(
        "no such element in FHIR R4 MedicationRequest (is this another FHIR version"
    )
    assert found["bundle: entry[2].resource.resourceType"] == (
        "a FHIR R4 resource type (MedicationUsage is FHIR R5 (R4 has MedicationStatement))"
    )


def test_dstu2_shapes_are_named(chart, import_chart):
    chart.condition("F33.1", status=None, clinicalStatus="active")
    chart.add({"resourceType": "MedicationOrder", "id": "mo1", "patient": chart.subject})
    found = problems(import_chart, chart.bundle())
    assert "earlier FHIR version" in found["bundle: entry[1].resource.clinicalStatus"]
    assert "MedicationOrder is FHIR DSTU2" in found["bundle: entry[2].resource.resourceType"]


def test_missing_required_elements_and_codes_outside_required_bindings(
    chart, import_chart, new_chart
):
    chart.add({"resourceType": "Observation", "code": {"text": "PHQ-9"}, "subject": chart.subject})
    chart.statement("sertraline", 100, "2024-01-01", None, status="taking")
    chart.resources[0]["gender"] = "f"
    found = problems(import_chart, chart.bundle())
    assert found["bundle: entry[1].resource.status"].startswith("a value (the element is required")
    assert found["bundle: entry[2].resource.status"].startswith(
        "a MedicationStatement.status code of FHIR R4: one of active, completed"
    )
    assert found["bundle: entry[0].resource.gender"].startswith("a Patient.gender code of FHIR R4")
    no_birth = new_chart(birth=None)
    found = problems(import_chart, no_birth.bundle())
    assert found == {
        "bundle: entry[0].resource.birthDate": "the patient's birth date (trdnav needs the age)"
    }


def test_a_bad_bundle_type_and_entries(chart, import_chart):
    bundle = chart.bundle("bundle")
    bundle["entry"].append("not an entry")
    found = problems(import_chart, bundle)
    assert found["bundle: type"].startswith("a Bundle.type of FHIR R4: one of batch")
    assert found["bundle: entry[1]"] == "a Bundle entry object"


def test_values_the_core_refuses_are_named_at_their_resources(chart, import_chart):
    chart.condition("F33.1", onset="2024-01-10")
    items = [5, 1, 1, 1, 1, 1, 1, 1, 0]
    chart.add(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": chart.LOINC, "code": "44249-1"}]},
            "subject": chart.subject,
            "effectiveDateTime": "2024-03-01",
            "component": [
                {"code": {"coding": [{"system": chart.LOINC, "code": code}]}, "valueInteger": value}
                for code, value in zip(chart.PHQ9_ITEMS, items, strict=True)
            ],
        }
    )
    found = problems(import_chart, chart.bundle())
    [(path, expected)] = found.items()
    assert path.startswith("bundle: entry[2].resource (Observation/observation-2)")
    assert path.endswith(": measurements[0].items[0]")
    assert expected.startswith("an integer from 0 to 3 (PHQ-9 item 1")


def test_bulk_files_are_checked_element_by_element(tmp_path, fhir_codes, kb):
    lines = [
        {"resourceType": "Patient", "id": "a", "birthDate": "1990-02-30"},
        {
            "resourceType": "Condition",
            "subject": {"reference": "Patient/a"},
            "clinicalStatus": "active",
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "F33.1"}]},
        },
        {"resourceType": "ProcedureRequest", "subject": {"reference": "Patient/a"}},
    ]
    path = tmp_path / "bulk.ndjson"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        import_files([path], kb, fhir_codes, date(2025, 6, 1))
    found = {p.path: p.expected for p in info.value.problems}
    assert found == {
        f"{path} line 4 (line 1, column 2)": "valid JSON",
        f"{path} line 1.birthDate": found[f"{path} line 1.birthDate"],
        f"{path} line 2.clinicalStatus": "a CodeableConcept object",
        f"{path} line 3.resourceType": "a FHIR R4 resource type "
        "(ProcedureRequest is FHIR STU3 (R4 has ServiceRequest))",
    }
    assert found[f"{path} line 1.birthDate"].startswith("a FHIR dateTime")


def test_a_medication_requests_dates_and_supply_are_checked(chart, import_chart):
    """A MedicationRequest whose status, intent and medication are read clean still has its
    authoredOn and its supply read and checked (its period depends on them)."""
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"

    def request(rid, **changes):
        resource = {
            "resourceType": "MedicationRequest",
            "id": rid,
            "status": "completed",
            "intent": "order",
            "subject": chart.subject,
            "medicationCodeableConcept": {"coding": [{"system": rxnorm, "code": "36437"}]},
            "authoredOn": "2024-01-01",
            "dosageInstruction": [
                {
                    "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                    "doseAndRate": [{"doseQuantity": {"value": 100, "unit": "mg"}}],
                }
            ],
            "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "code": "d"}},
        }
        resource.update(changes)
        chart.add(resource)

    request("mr1", authoredOn="2024-02-30")
    request("mr2", dispenseRequest={"quantity": {"value": "30"}, "numberOfRepeatsAllowed": "1"})
    request("mr3", intent="plan-ish", authoredOn="soon")
    with pytest.raises(InputError) as info:
        import_chart(chart.bundle(), validate=False)
    found = [p.path for p in info.value.problems]
    assert found.count("bundle: entry[1].resource.authoredOn") == 1
    assert "bundle: entry[2].resource.dispenseRequest.quantity.value" in found
    assert "bundle: entry[2].resource.dispenseRequest.numberOfRepeatsAllowed" in found
    assert "bundle: entry[3].resource.intent" in found
    assert "bundle: entry[3].resource.authoredOn" in found
    assert not [p for p in found if "entry[0]" in p]


@pytest.mark.parametrize("sequence", [[1], {"n": 1}, "1", 1.5, True])
def test_a_dosage_sequence_must_be_an_integer(chart, import_chart, sequence):
    chart.condition("F33.1", onset="2024-01-10")
    chart.statement("sertraline", 100, "2024-01-15", "2024-04-15", rxnorm="36437")
    bundle = chart.bundle()
    bundle["entry"][-1]["resource"]["dosage"][0]["sequence"] = sequence
    found = problems(import_chart, bundle, validate=False)
    [(path, expected)] = found.items()
    assert path.endswith("dosage[0].sequence")
    assert expected == "an integer (Dosage.sequence)"


@pytest.mark.parametrize("unit", [{"code": "d"}, ["d"], 7, "fortnight"])
def test_a_dose_periods_unit_must_be_a_unit_of_time(chart, import_chart, unit):
    chart.condition("F33.1", onset="2024-01-10")
    chart.statement("sertraline", 100, "2024-01-15", "2024-04-15", rxnorm="36437")
    bundle = chart.bundle()
    bundle["entry"][-1]["resource"]["dosage"][0]["timing"]["repeat"]["periodUnit"] = unit
    found = problems(import_chart, bundle, validate=False)
    [(path, expected)] = found.items()
    assert path.endswith("dosage[0].timing.repeat.periodUnit")
    assert expected == "a UCUM unit of time (h, d, wk, mo, a)"


def test_a_medication_requests_bad_elements_are_named_once(chart, import_chart):
    rxnorm = "http://www.nlm.nih.gov/research/umls/rxnorm"
    chart.add(
        {
            "resourceType": "MedicationRequest",
            "id": "mr1",
            "status": "completed",
            "intent": 7,
            "doNotPerform": "no",
            "subject": chart.subject,
            "medicationCodeableConcept": {"coding": "36437", "system": rxnorm},
            "authoredOn": "2024-01-01",
        }
    )
    with pytest.raises(InputError) as info:
        import_chart(chart.bundle(), validate=False)
    found = [p.path for p in info.value.problems]
    assert found
    assert len(found) == len(set(found)), found
