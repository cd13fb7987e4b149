"""FHIR export: histories and assessments as R4 resources that validate against the R4
models, and that the import reads back to the same facts (generated histories)."""

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trdnav.core.assessment import assess
from trdnav.core.history import PatientHistory
from trdnav.core.intake import parse_history
from trdnav.errors import InputError
from trdnav.fhir.assessment_export import assessment_bundle, bundle
from trdnav.fhir.bundles import document_resources
from trdnav.fhir.course_plan import course_plan_resources
from trdnav.fhir.export import export_history
from trdnav.fhir.imports import import_document
from trdnav.fhir.r4 import validate_r4
from trdnav.knowledge import load_knowledge

KB = load_knowledge()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AS_OF = date(2025, 6, 1)


def days(start: date, end: date):
    return st.integers(0, (end - start).days).map(lambda n: start + timedelta(days=n))


@st.composite
def histories(draw):
    birth = draw(days(date(1940, 1, 1), date(2005, 1, 1)))
    onset = draw(days(birth + timedelta(days=3650), AS_OF))
    any_day = days(date(2015, 1, 1), AS_OF)  # an import leaves out later records

    def span():
        start = draw(any_day)
        end = draw(st.none() | days(start, start + timedelta(days=400)))
        return start.isoformat(), end.isoformat() if end else None

    trials = []
    for _ in range(draw(st.integers(0, 5))):
        start, end = span()
        trials.append(
            {
                "drug": draw(st.sampled_from(sorted(KB.drugs))),
                "daily_dose_mg": draw(
                    st.floats(0.025, 600, allow_nan=False).map(lambda x: round(x, 3))
                ),
                "start": start,
                "end": end,
                "role": draw(st.sampled_from(["antidepressant", "augmentation"])),
                "response": draw(
                    st.sampled_from(
                        ["none", "partial", "response", "remission", "intolerance", "unknown"]
                    )
                ),
                "dose_optimized": draw(st.booleans()),
            }
        )
    courses = []
    for _ in range(draw(st.integers(0, 3))):
        start, end = span()
        courses.append(
            {
                "type": draw(
                    st.sampled_from(["ECT", "TMS", "VNS", "DBS", "ketamine", "esketamine"])
                ),
                "start": start,
                "end": end,
                "sessions": draw(st.integers(0, 40)),
                "response": draw(st.sampled_from(["none", "partial", "response", "unknown"])),
            }
        )
    therapy = []
    for _ in range(draw(st.integers(0, 2))):
        start, end = span()
        therapy.append(
            {
                "type": draw(st.sampled_from(["CBT", "IPT", "behavioural activation"])),
                "start": start,
                "end": end,
                "sessions": draw(st.integers(0, 30)),
            }
        )
    measurements = []
    for _ in range(draw(st.integers(0, 4))):
        inst = KB.instruments[draw(st.sampled_from(sorted(KB.instruments)))]
        items = [draw(st.integers(i.min, i.max)) for i in inst.items]
        measurements.append(
            {"instrument": inst.id, "date": draw(any_day).isoformat(), "items": items}
        )
    patient = {
        "birth_date": birth.isoformat(),
        "sex": draw(st.sampled_from(["female", "male", "other", "unknown"])),
    }
    if draw(st.booleans()):
        patient["name"] = draw(st.sampled_from(["Ada Archer", "Ben Blake", "Chloe Cruz"]))
    if draw(st.booleans()):
        patient["mrn"] = draw(st.from_regex(r"[A-Z0-9]{4,12}", fullmatch=True))
    return parse_history(
        {
            "id": draw(st.from_regex(r"[a-z0-9][a-z0-9.-]{0,30}", fullmatch=True)),
            "as_of": AS_OF.isoformat(),
            "patient": patient,
            "episode": {
                "onset": onset.isoformat(),
                "severity": draw(st.sampled_from(["subsyndromal", "mild", "moderate", "severe"])),
                "psychotic_features": draw(st.booleans()),
                "recurrent": draw(st.booleans()),
            },
            "conditions": draw(
                st.lists(st.sampled_from(sorted(KB.conditions)), unique=True, max_size=4)
            ),
            "medication_trials": trials,
            "psychotherapy": therapy,
            "procedures": courses,
            "measurements": measurements,
        },
        KB,
    )


def facts(history: PatientHistory):
    """The history with its lists in a canonical order (the import keeps date order)."""
    data = history.model_dump(mode="json")
    for key in ("conditions", "medication_trials", "psychotherapy", "procedures", "measurements"):
        data[key] = sorted(data[key], key=lambda x: json.dumps(x, sort_keys=True))
    return data


def round_trip(history, fhir_codes, validate=False):
    exported = export_history(history, KB, fhir_codes)
    result, _ = import_document(
        bundle(exported.resources), KB, fhir_codes, history.as_of, validate=validate
    )
    [patient] = result.patients
    return exported, patient


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=histories())
def test_import_of_the_export_keeps_every_fact(history, fhir_codes):
    _, patient = round_trip(history, fhir_codes)
    assert facts(patient.history) == facts(history)
    assert assess(patient.history, KB).to_json() == assess(history, KB).to_json()
    assert patient.report.missing == []
    assert patient.report.ambiguous == []


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(history=histories())
def test_exports_validate_against_the_r4_models(history, fhir_codes):
    document = assessment_bundle(assess(history, KB), history, KB, fhir_codes)
    problems: list = []
    resources = list(document_resources(document, "export", problems))
    assert problems == []
    assert validate_r4(resources, fhir_codes) == []


@pytest.mark.parametrize(
    "name", ["stage-2-trd", "refractory-recurrent", "suicidal-ideation-first-episode"]
)
def test_the_assessment_as_observations_derived_from_the_evidence(name, fhir_codes):
    history = parse_history(json.loads((EXAMPLES / f"{name}.json").read_text("utf-8")), KB)
    result = assess(history, KB)
    document = assessment_bundle(result, history, KB, fhir_codes)
    resources = [e["resource"] for e in document["entry"]]
    ids = {f"{r['resourceType']}/{r['id']}" for r in resources}
    system = fhir_codes.local_system("assessment")
    by_code = {}
    for r in resources:
        coding = r.get("code", {}).get("coding", [{}])[0]
        if coding.get("system") == system:
            by_code.setdefault(coding["code"], []).append(r)
            assert {d["reference"] for d in r.get("derivedFrom", [])} <= ids
    assert by_code["trd"][0]["valueBoolean"] is result.trd
    assert by_code["thase-rush-stage"][0]["valueInteger"] == result.staging.thase_rush
    assert by_code["mgh-s"][0]["valueQuantity"]["value"] == result.staging.mgh_s
    assert by_code["msm"][0]["component"][0]["valueString"] == result.staging.msm.band
    failed = [i for i, t in enumerate(result.trials) if t.in_episode and t.failed]
    assert len(by_code["trd"][0].get("derivedFrom", [])) == len(failed)
    verdicts = {
        o["component"][0]["valueCodeableConcept"]["coding"][0]["code"]: o["valueCodeableConcept"][
            "coding"
        ][0]["code"]
        for o in by_code["option-verdict"]
    }
    assert verdicts == {o.treatment: o.verdict for o in result.options}
    assert [a["valueCodeableConcept"]["coding"][0]["code"] for a in by_code.get("alert", [])] == [
        a.code for a in result.alerts
    ]
    tms = next(o for o in by_code["option-verdict"] if "tms" in json.dumps(o["component"]))
    assert [n["text"] for n in tms["note"]][: len(result.options[2].reasons)] == result.options[
        2
    ].reasons


@dataclass
class Plan:
    treatment: str
    sessions: list


def test_a_course_plan_is_a_care_plan_with_a_service_request_per_session(fhir_codes):
    zone = timezone(timedelta(hours=1))
    sessions = [datetime(2025, 7, d, 9, 0, tzinfo=zone) for d in (7, 9, 11)] + [date(2025, 7, 14)]
    resources = course_plan_resources(Plan("ect", sessions), "p1", KB, fhir_codes)
    care_plan, *requests = resources
    assert care_plan["resourceType"] == "CarePlan"
    assert [a["reference"]["reference"] for a in care_plan["activity"]] == [
        f"ServiceRequest/{r['id']}" for r in requests
    ]
    assert [r["occurrenceDateTime"] for r in requests] == [
        "2025-07-07T09:00:00+01:00",
        "2025-07-09T09:00:00+01:00",
        "2025-07-11T09:00:00+01:00",
        "2025-07-14",
    ]
    assert requests[0]["code"]["coding"][1] == {
        "system": "http://snomed.info/sct",
        "code": "23835007",
    }
    located = list(document_resources(bundle(resources), "plan", []))
    assert validate_r4(located, fhir_codes) == []
    with pytest.raises(InputError) as info:
        course_plan_resources(Plan("tmss", [datetime(2025, 1, 1, 9)]), "p1", KB, fhir_codes)
    assert [p.path for p in info.value.problems] == ["plan.treatment", "plan.sessions[0]"]


def test_an_alert_on_the_answer_before_the_episode_derives_from_that_measurement(fhir_codes):
    doc = json.loads((EXAMPLES / "stage-2-trd.json").read_text("utf-8"))
    doc["measurements"] = [
        {"instrument": "PHQ-9", "date": "2023-08-20", "items": [1, 1, 1, 1, 1, 1, 1, 1, 2]}
    ]
    history = parse_history(doc, KB)
    result = assess(history, KB)
    assert [a.code for a in result.alerts] == ["suicide_item_before_episode"]
    resources = [e["resource"] for e in assessment_bundle(result, history, KB, fhir_codes)["entry"]]
    measured = [
        r
        for r in resources
        if r.get("effectiveDateTime", "").startswith("2023-08-20")
        and "alert" not in json.dumps(r.get("code", {}))
    ]
    alert = next(r for r in resources if "suicide_item_before_episode" in json.dumps(r))
    assert {d["reference"] for d in alert["derivedFrom"]} <= {
        f"Observation/{r['id']}" for r in measured
    }
    assert alert["derivedFrom"]
