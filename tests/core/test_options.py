import pytest

from trdnav.core.knowledge import TREATMENT_IDS

FAILED = {"start": "2024-02-01", "end": "2024-05-01", "response": "none"}


def failed_trials(trial, n):
    drugs = [
        ("sertraline", 100),
        ("venlafaxine", 150),
        ("mirtazapine", 30),
        ("bupropion", 300),
        ("citalopram", 20),
    ]
    return [trial(d, dose, FAILED["start"], FAILED["end"]) for d, dose in drugs[:n]]


def option(a, treatment):
    return next(o for o in a.options if o.treatment == treatment)


def verdicts(a):
    return {o.treatment: o.verdict for o in a.options}


SI_PHQ = {"instrument": "PHQ-9", "date": "2024-05-01", "items": [1] * 8 + [2]}


def test_every_option_in_knowledge_base_order_with_its_basis(run, history):
    a = run(history())
    assert [o.treatment for o in a.options] == list(TREATMENT_IDS)
    for o in a.options:
        assert o.reasons, o.treatment
        assert o.sources, o.treatment
        assert o.rule_ids, o.treatment
        assert "verdict.precedence" in o.rule_ids


def test_a_new_patient(run, history):
    assert verdicts(run(history())) == {
        "psychotherapy": "eligible",
        "medication_change": "eligible",
        "tms": "not_yet",
        "ect": "not_yet",
        "esketamine": "not_yet",
        "ketamine": "not_yet",
        "vns": "not_yet",
        "dbs": "not_yet",
        "psilocybin": "trial_only",
        "botox": "trial_only",
        "celecoxib": "trial_only",
    }


@pytest.mark.parametrize(
    ("n_failed", "conditions", "verdict"),
    [
        (0, [], "not_yet"),
        (1, [], "eligible"),
        (1, ["seizure_disorder"], "caution"),
        (0, ["seizure_disorder"], "not_yet"),
        (1, ["cochlear_implant"], "contraindicated"),
        (1, ["ferromagnetic_head_implant", "seizure_disorder"], "contraindicated"),
        (0, ["implanted_brain_stimulator"], "contraindicated"),
        (1, ["implanted_vagus_nerve_stimulator"], "contraindicated"),
        (1, ["family_history_of_epilepsy"], "caution"),
        (1, ["seizure_threshold_lowering_medication"], "caution"),
        (1, ["raised_intracranial_pressure"], "caution"),
        (1, ["cardiac_pacemaker_or_defibrillator"], "caution"),
    ],
)
def test_tms(run, history, trial, n_failed, conditions, verdict):
    a = run(history(conditions=conditions, medication_trials=failed_trials(trial, n_failed)))
    o = option(a, "tms")
    assert o.verdict == verdict
    if verdict == "contraindicated":
        assert o.reasons[0].startswith("Contraindicated:")
    if "seizure_disorder" in conditions:
        assert any("Seizure disorder" in r for r in o.reasons)  # never hidden


@pytest.mark.parametrize(
    ("n_failed", "episode", "si", "conditions", "verdict"),
    [
        (1, {}, False, [], "not_yet"),
        (2, {}, False, [], "eligible"),
        (0, {"severity": "severe", "psychotic_features": True}, False, [], "eligible"),
        (0, {"severity": "moderate", "psychotic_features": True}, False, [], "not_yet"),
        (0, {}, True, [], "eligible"),
        (2, {}, False, ["recent_myocardial_infarction"], "caution"),
        (1, {}, False, ["raised_intracranial_pressure"], "not_yet"),
        (2, {}, False, ["aneurysmal_vascular_disease"], "caution"),
        (2, {}, False, ["arteriovenous_malformation"], "caution"),
        (2, {}, False, ["recent_stroke"], "caution"),
        (2, {}, False, ["severe_lung_disease"], "caution"),
        (2, {}, False, ["high_anaesthetic_risk"], "caution"),
    ],
)
def test_ect(run, history, trial, n_failed, episode, si, conditions, verdict):
    doc = history(
        episode=episode,
        conditions=conditions,
        medication_trials=failed_trials(trial, n_failed),
        measurements=[SI_PHQ] if si else [],
    )
    assert option(run(doc), "ect").verdict == verdict


@pytest.mark.parametrize(
    ("as_of", "oral"), [("2025-01-20", "required"), ("2025-01-21", "optional")]
)
def test_esketamine_monotherapy_date(run, history, trial, as_of, oral):
    o = option(run(history(as_of=as_of, medication_trials=failed_trials(trial, 2))), "esketamine")
    assert (o.verdict, o.with_oral_antidepressant) == ("eligible", oral)


def test_esketamine_for_suicidal_ideation_without_trd_needs_an_oral_antidepressant(run, history):
    o = option(run(history(measurements=[SI_PHQ])), "esketamine")
    assert (o.verdict, o.with_oral_antidepressant) == ("eligible", "required")


@pytest.mark.parametrize(
    ("as_of", "verdict"), [("2025-03-09", "not_yet"), ("2025-03-10", "eligible")]
)
def test_esketamine_is_for_adults(run, history, trial, as_of, verdict):
    doc = history(
        as_of=as_of, patient={"birth_date": "2007-03-10"}, medication_trials=failed_trials(trial, 2)
    )
    assert option(run(doc), "esketamine").verdict == verdict


@pytest.mark.parametrize(
    "condition",
    [
        "aneurysmal_vascular_disease",
        "arteriovenous_malformation",
        "intracerebral_hemorrhage_history",
        "esketamine_hypersensitivity",
    ],
)
def test_esketamine_contraindications_outrank_eligibility(run, history, trial, condition):
    o = option(
        run(history(conditions=[condition], medication_trials=failed_trials(trial, 2))),
        "esketamine",
    )
    assert o.verdict == "contraindicated"
    assert o.contraindications == [condition]
    assert o.with_oral_antidepressant == "optional"


def test_esketamine_always_carries_the_oral_antidepressant_field(run, history):
    data = option(run(history()), "esketamine").model_dump(mode="json")
    assert data["with_oral_antidepressant"] == "required"
    other = option(run(history()), "tms").model_dump(mode="json")
    assert "with_oral_antidepressant" not in other


@pytest.mark.parametrize(
    ("n_failed", "si", "conditions", "episode", "verdict"),
    [
        (1, False, [], {}, "not_yet"),
        (2, False, [], {}, "eligible"),
        (0, True, [], {}, "eligible"),
        (2, False, ["uncontrolled_hypertension"], {}, "caution"),
        (2, False, ["substance_use_disorder"], {}, "caution"),
        (2, False, ["psychotic_disorder"], {}, "caution"),
        (2, False, [], {"psychotic_features": True}, "caution"),
        (1, False, ["uncontrolled_hypertension"], {}, "not_yet"),
    ],
)
def test_ketamine(run, history, trial, n_failed, si, conditions, episode, verdict):
    doc = history(
        conditions=conditions,
        episode=episode,
        medication_trials=failed_trials(trial, n_failed),
        measurements=[SI_PHQ] if si else [],
    )
    o = option(run(doc), "ketamine")
    assert o.verdict == verdict
    assert o.regulatory_status == "off_label"


def ect_course(response="none", sessions=8):
    return {
        "type": "ECT",
        "start": "2024-06-01",
        "end": "2024-07-01",
        "sessions": sessions,
        "response": response,
    }


@pytest.mark.parametrize(
    ("n_failed", "ects", "as_of", "recurrent", "birth", "verdict"),
    [
        (4, 0, "2025-06-01", True, "1980-01-15", "eligible"),
        (3, 1, "2025-06-01", True, "1980-01-15", "eligible"),
        (3, 0, "2025-06-01", True, "1980-01-15", "not_yet"),
        (4, 0, "2025-12-31", False, "1980-01-15", "not_yet"),  # 23 months
        (4, 0, "2026-01-01", False, "1980-01-15", "eligible"),  # 24 months: 2 years
        (4, 0, "2025-06-01", True, "2007-06-02", "not_yet"),  # 17
    ],
)
def test_vns(run, history, trial, n_failed, ects, as_of, recurrent, birth, verdict):
    doc = history(
        as_of=as_of,
        patient={"birth_date": birth},
        episode={"recurrent": recurrent},
        medication_trials=failed_trials(trial, n_failed),
        procedures=[ect_course()] * ects,
    )
    assert option(run(doc), "vns").verdict == verdict


@pytest.mark.parametrize(
    ("n_failed", "therapy", "ect", "verdict"),
    [
        (2, True, True, "trial_only"),
        (1, True, True, "not_yet"),
        (2, False, True, "not_yet"),
        (2, True, False, "not_yet"),
    ],
)
def test_dbs(run, history, trial, n_failed, therapy, ect, verdict):
    doc = history(
        medication_trials=failed_trials(trial, n_failed),
        psychotherapy=[{"type": "CBT", "start": "2024-03-01", "end": None, "sessions": 12}]
        if therapy
        else [],
        procedures=[ect_course()] if ect else [],
    )
    assert option(run(doc), "dbs").verdict == verdict


@pytest.mark.parametrize(
    ("treatment", "conditions", "episode", "verdict"),
    [
        ("psilocybin", [], {}, "trial_only"),
        ("psilocybin", ["psychotic_disorder"], {}, "contraindicated"),
        ("psilocybin", [], {"severity": "severe", "psychotic_features": True}, "contraindicated"),
        ("botox", ["injection_site_infection"], {}, "contraindicated"),
        ("celecoxib", ["nsaid_hypersensitivity"], {}, "contraindicated"),
        ("celecoxib", ["serious_heart_disease"], {}, "trial_only"),
    ],
)
def test_investigational_options(run, history, treatment, conditions, episode, verdict):
    o = option(run(history(conditions=conditions, episode=episode)), treatment)
    assert o.verdict == verdict
    assert o.regulatory_status == "investigational"


def test_regulatory_status_follows_the_history(run, history):
    assert (
        option(
            run(history(as_of="2018-06-01", episode={"onset": "2018-01-01"})), "esketamine"
        ).regulatory_status
        == "investigational"
    )
    assert (
        option(
            run(history(as_of="2019-03-01", episode={"onset": "2018-01-01"})), "esketamine"
        ).regulatory_status
        == "fda_approved"
    )


def test_caution_on_a_not_yet_option_is_listed_but_does_not_change_it(run, history):
    o = option(run(history(conditions=["seizure_disorder"])), "tms")
    assert o.verdict == "not_yet"
    assert o.cautions == ["seizure_disorder"]
    assert o.reasons[0].startswith("Caution if it becomes an option")


@pytest.mark.parametrize(
    ("procedure", "finding"),
    [("VNS", "Implanted vagus nerve stimulator"), ("DBS", "Implanted brain stimulator")],
)
def test_an_implant_on_record_contraindicates_tms_without_being_listed(
    run, history, trial, procedure, finding
):
    implant = {"type": procedure, "start": "2024-03-04", "sessions": 0, "response": "unknown"}
    a = run(history(medication_trials=failed_trials(trial, 1), procedures=[implant]))
    o = option(a, "tms")
    assert o.verdict == "contraindicated"
    assert o.reasons[0].startswith(
        f"Contraindicated: {finding} ({procedure} on record from 2024-03-04)"
    )


@pytest.mark.parametrize(
    ("birth", "as_of", "verdict", "reason"),
    [
        ("2007-06-02", "2025-06-01", "eligible", "Age 17: cleared for adolescents from 15"),
        ("2010-06-01", "2025-06-01", "eligible", "Age 15: cleared for adolescents from 15"),
        ("2010-06-02", "2025-06-01", "not_yet", "Age 14: TMS is cleared for adults"),
        ("2007-06-02", "2024-03-21", "not_yet", "Age 16: TMS is cleared for adults"),
        ("2006-03-21", "2024-03-21", "eligible", "Adult (age 18)."),
    ],
)
def test_tms_is_for_adults_and_from_its_clearance_for_adolescents_from_15(
    run, history, trial, birth, as_of, verdict, reason
):
    doc = history(
        as_of=as_of,
        patient={"birth_date": birth},
        episode={"onset": "2023-01-01"},
        medication_trials=[trial("sertraline", 100, "2023-02-01", "2023-05-01")],
    )
    o = option(run(doc), "tms")
    assert (o.verdict, o.reasons[0][: len(reason)]) == (verdict, reason)


def test_uncontrolled_hypertension_is_a_caution_for_esketamine(run, history, trial):
    doc = history(
        conditions=["uncontrolled_hypertension"], medication_trials=failed_trials(trial, 2)
    )
    o = option(run(doc), "esketamine")
    assert o.verdict == "caution"
    assert o.cautions == ["uncontrolled_hypertension"]
