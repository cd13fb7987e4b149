"""FHIR R4 Bundles to patient histories: what is mapped, ignored, ambiguous and missing."""

import pytest

from trdnav.errors import InputError

GTS = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation"


def only(result):
    assert len(result.patients) == 1
    return result.patients[0]


def reasons(report):
    return {(g["resource_type"], g["reason"]) for g in report.ignored()}


def test_a_patient_with_a_recurrent_severe_episode_and_two_trials(chart, import_chart):
    chart.condition("F33.2", onset="2024-01-10")
    chart.statement("sertraline", 150, "2024-02-01", "2024-04-15", rxnorm="36437")
    chart.statement("Effexor XR 75 MG capsule", 75, "2024-05-01", None, frequency=3)
    got = only(import_chart(chart))
    h = got.history
    assert (h.id, h.patient.birth_date.isoformat(), h.patient.sex) == ("p1", "1980-01-15", "female")
    assert h.episode.onset.isoformat() == "2024-01-10"
    assert (h.episode.recurrent, h.episode.severity, h.episode.psychotic_features) == (
        True,
        "severe",
        False,
    )
    assert [(t.drug, t.daily_dose_mg, t.role, t.end) for t in h.medication_trials] == [
        ("sertraline", 150.0, "antidepressant", h.medication_trials[0].end),
        ("venlafaxine", 225.0, "antidepressant", None),
    ]
    report = got.report
    assert [m.field for m in report.missing] == ["medication_trials[0].response"]
    assert got.provenance["medication_trials[1]"] == ["MedicationStatement/medicationstatement-3"]
    assert report.ambiguous == []


def test_episode_values_come_from_the_code_and_missing_ones_are_reported(chart, import_chart):
    chart.condition("F32.3", onset="2024-03-01")
    h = only(import_chart(chart)).history
    assert (h.episode.recurrent, h.episode.severity, h.episode.psychotic_features) == (
        False,
        "severe",
        True,
    )
    other = type(chart)()
    other.condition("370143000", system=other.SNOMED, onset=None, recordedDate="2024-02-02")
    got = only(import_chart(other))
    assert got.history.episode.onset.isoformat() == "2024-02-02"
    missing = {m.field: m.assumed for m in got.report.missing}
    assert missing == {
        "episode.onset": "2024-02-02",
        "episode.severity": "moderate",
        "episode.psychotic_features": False,
        "episode.recurrent": False,
    }


def test_without_a_depression_diagnosis_the_episode_is_assumed_and_said(chart, import_chart):
    chart.statement("sertraline", 100, "2024-02-01", "2024-05-01", rxnorm="36437")
    got = only(import_chart(chart))
    assert got.history.episode.onset.isoformat() == "2024-02-01"
    fields = [m.field for m in got.report.missing]
    assert fields[:4] == [
        "episode",
        "episode.severity",
        "episode.psychotic_features",
        "episode.recurrent",
    ]
    assert "no diagnosis of major depression" in got.report.missing[0].text


def test_the_current_episode_is_the_latest_active_problem_list_diagnosis(chart, import_chart):
    chart.condition("F32.1", onset="2019-05-01", status="resolved")
    chart.condition("F33.1", onset="2024-01-10")
    chart.condition(
        "F33.1",
        onset="2024-06-01",
        category=[
            {
                "coding": [
                    {
                        "code": "encounter-diagnosis",
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                    }
                ]
            }
        ],
    )
    chart.condition("F33.0", onset="2026-01-01")
    got = only(import_chart(chart))
    assert got.history.episode.onset.isoformat() == "2024-01-10"
    assert got.provenance["episode"] == ["Condition/condition-2"]


def test_findings_bipolar_refuted_and_resolved_conditions(chart, import_chart):
    chart.condition("F33.1")
    chart.condition("G40.909")  # epilepsy: a finding, even resolved
    chart.condition("Z96.21", status="resolved")  # cochlear implant no longer present
    chart.condition("I71.4", verification="refuted")
    chart.condition("F31.9")  # bipolar
    chart.condition("J45.909")  # asthma: not read
    chart.add(
        {
            "resourceType": "AllergyIntolerance",
            "patient": chart.subject,
            "code": {"text": "Ketamine"},
        }
    )
    got = only(import_chart(chart))
    assert got.history.conditions == ["ketamine_hypersensitivity", "seizure_disorder"]
    assert [w.resource for w in got.report.warnings] == ["Condition/condition-5"]
    assert "bipolar disorder" in got.report.warnings[0].text
    assert reasons(got.report) >= {
        ("Condition", "clinicalStatus resolved: no longer applies"),
        ("Condition", "verificationStatus refuted"),
    }


def test_medications_ignored_ambiguous_and_mapped(chart, import_chart):
    chart.condition("F33.1")
    chart.statement("amoxicillin 500 MG", 1500, "2024-02-01", "2024-02-10")
    chart.statement("sertraline", None, "2024-02-01", "2024-05-01", rxnorm="36437")
    chart.statement("fluoxetine 25 MG / olanzapine 6 MG", 25, "2024-02-01", "2024-05-01")
    chart.statement("doxepin 10 MG", 10, "2024-02-01", "2024-05-01", rxnorm="1000048")
    chart.statement("bupropion", 300, "2024-02-01", None, status="not-taken")
    chart.statement("aripiprazole", 5, "2024-06-01", None, rxnorm="89013")
    chart.statement("citalopram", 20, "2024-06-01", None, status="unknown")
    got = only(import_chart(chart))
    assert [(t.drug, t.role) for t in got.history.medication_trials] == [
        ("aripiprazole", "augmentation")
    ]
    ambiguous = {a.resource: a.text for a in got.report.ambiguous}
    assert "no dosage" in ambiguous["MedicationStatement/medicationstatement-3"]
    assert (
        "a combination product; of its ingredients trdnav knows only fluoxetine"
        in ambiguous["MedicationStatement/medicationstatement-4"]
    )
    assert (
        "an antidepressant that trdnav cannot match"
        in ambiguous["MedicationStatement/medicationstatement-5"]
    )
    assert "status unknown" in ambiguous["MedicationStatement/medicationstatement-8"]
    assert reasons(got.report) >= {
        ("MedicationStatement", "not a drug of trdnav's knowledge base"),
        (
            "MedicationStatement",
            "status not-taken: the statement says the medication was not taken",
        ),
    }


def test_medication_requests_renewals_merge_and_references_resolve(chart, import_chart):
    chart.condition("F33.1")
    chart.add(
        {
            "resourceType": "Medication",
            "id": "med-s",
            "code": {"coding": [{"system": chart.RXNORM, "code": "36437"}]},
        }
    )
    for start in ("2024-02-01", "2024-03-01", "2024-03-31"):
        chart.add(
            {
                "resourceType": "MedicationRequest",
                "status": "completed",
                "intent": "order",
                "medicationReference": {"reference": "Medication/med-s"},
                "subject": chart.subject,
                "authoredOn": start,
                "dosageInstruction": [
                    {
                        "timing": {"code": {"coding": [{"system": GTS, "code": "BID"}]}},
                        "doseAndRate": [{"doseQuantity": {"value": 50, "unit": "mg"}}],
                    }
                ],
                "dispenseRequest": {
                    "expectedSupplyDuration": {"value": 30, "unit": "days", "code": "d"}
                },
            }
        )
    chart.add(
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "proposal",
            "medicationCodeableConcept": {"text": "mirtazapine"},
            "subject": chart.subject,
        }
    )
    got = only(import_chart(chart))
    [trial] = got.history.medication_trials
    assert (trial.drug, trial.daily_dose_mg, trial.start.isoformat(), trial.end.isoformat()) == (
        "sertraline",
        100.0,
        "2024-02-01",
        "2024-04-29",
    )
    assert len(got.provenance["medication_trials[0]"]) == 3
    assert ("MedicationRequest", "intent proposal: not an order that was taken") in reasons(
        got.report
    )


def test_procedure_sessions_become_courses(chart, import_chart):
    chart.condition("F33.1")
    for day in ("2024-03-01", "2024-03-04", "2024-03-06", "2024-05-20"):
        chart.procedure("90870", performed=day)
    chart.procedure("90870", performed="2024-03-08", status="not-done")
    chart.procedure("90834", performed="2024-02-01")
    chart.procedure("90834", performed="2024-02-08")
    chart.procedure("99213", performed="2024-02-08")
    got = only(import_chart(chart))
    h = got.history
    assert [(p.type, p.start.isoformat(), p.end.isoformat(), p.sessions) for p in h.procedures] == [
        ("ECT", "2024-03-01", "2024-03-06", 3),
        ("ECT", "2024-05-20", "2024-05-20", 1),
    ]
    assert [(p.type, p.sessions) for p in h.psychotherapy] == [("psychotherapy", 2)]
    assert {m.field for m in got.report.missing} >= {
        "procedures[0].sessions",
        "procedures[0].response",
    }
    assert ("Procedure", "status not-done: the procedure was not done") in reasons(got.report)


def test_phq9_from_panels_responses_and_loose_items(chart, import_chart):
    chart.condition("F33.1")
    chart.phq9_panel("2024-03-01", [2, 2, 1, 1, 1, 1, 1, 1, 1], total=11)
    chart.phq9_response("2024-04-01", [1, 1, 1, 1, 1, 1, 1, 1, 0])
    chart.phq9_total("2024-05-01", 7)
    chart.phq9_response("2024-05-15", [1, 1, 1, 1, 1, 1, 1, 1, 0], status="in-progress")
    chart.phq9_total("2024-06-01", 12, code="89204-2")
    got = only(import_chart(chart))
    assert [(m.date.isoformat(), m.items[0], m.items[8]) for m in got.history.measurements] == [
        ("2024-03-01", 2, 1),
        ("2024-04-01", 1, 0),
    ]
    assert len(got.provenance["measurements[0]"]) == 11
    ambiguous = [a.text for a in got.report.ambiguous]
    assert len(ambiguous) == 2
    assert all("total without item scores" in text for text in ambiguous)
    assert ("QuestionnaireResponse", "status in-progress: not completed") in reasons(got.report)


def test_a_response_and_the_panel_derived_from_it_count_once(chart, import_chart):
    chart.condition("F33.1")
    chart.phq9_response("2024-04-01", [1, 1, 1, 1, 1, 1, 1, 1, 0])
    chart.phq9_panel("2024-04-01", [1, 1, 1, 1, 1, 1, 1, 1, 0])
    got = only(import_chart(chart))
    assert len(got.history.measurements) == 1


def test_an_incomplete_panel_is_ambiguous(chart, import_chart):
    chart.condition("F33.1")
    panel = chart.phq9_panel("2024-03-01", [2, 2, 1, 1, 1, 1, 1, 1, 1])
    panel["hasMember"] = panel["hasMember"][:7]
    got = only(import_chart(chart))
    assert got.history.measurements == []
    assert "without item(s) 8, 9" in got.report.ambiguous[0].text


@pytest.mark.parametrize("kind", ["collection", "transaction", "searchset"])
def test_bundle_types(chart, import_chart, kind):
    chart.condition("F33.1")
    bundle = chart.bundle(kind)
    if kind == "searchset":
        bundle["entry"].append(
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "information", "code": "informational"}],
                },
                "search": {"mode": "outcome"},
            }
        )
    got = import_chart(bundle)
    assert only(got).history.episode.recurrent is True


def test_resources_of_another_patient_are_an_error(chart, import_chart, new_chart):
    other = new_chart(pid="p2")
    chart.resources += other.resources
    chart.condition("F33.1")
    chart.add(
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "x"},
            "subject": {"reference": "Patient/p3"},
        }
    )
    with pytest.raises(InputError) as info:
        import_chart(chart)
    assert [p.path for p in info.value.problems] == ["bundle: entry[3].resource.subject.reference"]


def test_without_a_patient_it_is_an_error(import_chart):
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": []}
    with pytest.raises(InputError, match="at least one Patient resource"):
        import_chart(bundle)


def test_records_of_another_patient_never_join_the_only_patient(chart, import_chart):
    chart.condition("F33.1", onset="2024-01-10")
    chart.statement("sertraline", 150, "2024-02-01", "2024-04-15", rxnorm="36437")
    other = chart.statement("venlafaxine", 225, "2024-05-01", "2024-07-15")
    other["subject"] = {"reference": "Patient/someone-else"}
    lost = chart.add({"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
    lost.pop("subject", None)  # no reference at all: the only patient's
    got = only(import_chart(chart))
    assert [t.drug for t in got.history.medication_trials] == ["sertraline"]
    assert [(w.resource, w.text) for w in got.report.warnings] == [
        (
            "Patient/someone-else",
            "1 resource(s) name another patient (Patient/someone-else), not Patient/p1: not read",
        )
    ]


MR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}


@pytest.mark.parametrize(
    ("identifiers", "kept"),
    [
        ([{"type": MR, "value": "7" * 65}], None),
        ([{"type": MR, "value": "7" * 65}, {"type": MR, "value": "MRN-0042"}], "MRN-0042"),
        ([{"type": MR, "value": "7" * 64}], "7" * 64),
    ],
)
def test_a_medical_record_number_longer_than_kept_is_left_out_not_cut(
    new_chart, import_chart, identifiers, kept
):
    """A history keeps 64 characters of an MRN. A longer one is left out and the report says
    so: cut short, it could name another patient's record (the next MR identifier is used)."""
    chart = new_chart(identifier=identifiers)
    chart.condition("F33.1")
    got = only(import_chart(chart))
    assert got.history.patient.mrn == kept
    warned = [(w.resource, w.where, w.text) for w in got.report.warnings]
    if len(identifiers[0]["value"]) > 64:
        assert warned == [
            (
                "Patient/p1",
                "bundle: entry[0].resource.identifier[0].value",
                "the medical record number is 65 characters long, more than the 64 a history "
                "keeps: not kept",
            )
        ]
    else:
        assert warned == []


def test_long_labels_are_shortened_and_the_report_says_so(new_chart, import_chart):
    """A name (200 characters) and a psychotherapy's type (64) are labels: a longer one is
    cut to fit, ending in "…", and reported where it was read."""
    name = "Maria " + "Anna " * 60 + "Example"
    chart = new_chart(name=[{"text": name}])
    chart.condition("F33.1")
    therapy = "Cognitive behavioural therapy, " + "individual sessions, " * 4 + "weekly"
    for day in ("2024-02-01", "2024-02-08"):
        chart.procedure("90834", performed=day)["code"]["text"] = therapy
    got = only(import_chart(chart))
    h = got.history
    assert h.patient.name == name[:199].rstrip() + "…"
    assert len(h.patient.name) <= 200
    assert [p.type for p in h.psychotherapy] == [therapy[:63].rstrip() + "…"]
    warned = [(w.resource, w.where, w.text) for w in got.report.warnings]
    assert warned == [
        (
            "Patient/p1",
            "bundle: entry[0].resource.name[0]",
            f"the patient's name is {len(name)} characters long: shortened to the 200 a "
            "history keeps",
        ),
        *[
            (
                f"Procedure/procedure-{n}",
                f"bundle: entry[{n}].resource.code.text",
                f"the therapy's type is {len(therapy)} characters long: shortened to the 64 a "
                "history keeps",
            )
            for n in (2, 3)
        ],
    ]


def test_records_dated_after_the_import_date_are_left_out_and_named(chart, import_chart):
    """The import date is the assessment's: a later record (a mistyped year, a planned
    date) would be stored and never counted, so it is left out where the report says so."""
    chart.condition("F33.1", onset="2024-01-10")
    chart.statement("sertraline", 150, "2024-02-01", "2024-04-15", rxnorm="36437")
    chart.statement("bupropion", 300, "2062-02-01", None, rxnorm="42347")
    chart.phq9_response("2024-04-01", [1, 1, 1, 1, 1, 1, 1, 1, 0])
    chart.phq9_response("2062-04-01", [3, 3, 3, 3, 3, 3, 3, 3, 3])
    chart.procedure("90870", performed="2062-03-01")
    got = only(import_chart(chart))
    h = got.history
    assert [t.drug for t in h.medication_trials] == ["sertraline"]
    assert [m.date.isoformat() for m in h.measurements] == ["2024-04-01"]
    assert h.procedures == []
    later = "dated after the import date (2025-06-01): not imported"
    ignored = {g["resource_type"]: g["count"] for g in got.report.ignored() if g["reason"] == later}
    assert ignored == {"MedicationStatement": 1, "QuestionnaireResponse": 1, "Procedure": 1}


def test_the_same_patient_given_twice_must_agree_on_age_and_sex(chart, import_chart):
    """The first Patient resource was read and a second with another birth date ignored:
    the age that several options' rules use came from whichever came first."""
    chart.condition("F33.1", onset="2024-01-10")
    chart.add(
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-01-15"}
    )
    assert only(import_chart(chart)).history.patient.birth_date.isoformat() == "1980-01-15"
    chart.add({"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1950-01-01"})
    with pytest.raises(InputError) as exc:
        import_chart(chart)
    found = {p.path.rsplit(".", 1)[-1]: (p.value, p.expected) for p in exc.value.problems}
    assert found["birthDate"][0] == "1950-01-01"
    assert "(1980-01-15): the two Patient resources disagree" in found["birthDate"][1]
    assert found["gender"][0] == "male"


@pytest.mark.parametrize(("birth", "precision"), [("1980", "year"), ("1980-07", "month")])
def test_a_birth_date_given_to_the_year_or_month_is_reported(
    new_chart, import_chart, birth, precision
):
    chart = new_chart(birth=birth)
    chart.condition("F33.1", onset="2024-01-10")
    got = only(import_chart(chart, validate=False))
    missing = {m.field: (m.text, m.assumed) for m in got.report.missing}
    text, assumed = missing["patient.birth_date"]
    assert f"gives the birth date to the {precision} only" in text
    assert assumed == got.history.patient.birth_date.isoformat() == f"{birth}-01-01"[:10]
