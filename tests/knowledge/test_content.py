"""The knowledge base says what the source article and the reference say, with citations."""

import ast
import re
from datetime import date
from pathlib import Path

import pytest

import trdnav.core
from trdnav.cohort.concepts import load_cohort_knowledge
from trdnav.knowledge.fhir_codes import load_fhir_codes

ARTICLE_CLAIMS = {
    "tms": [
        "50-60 %",
        "about a third",
        "5 sessions a week",
        "4 to 6 weeks",
        "Headache",
        "Lightheadedness",
        "Scalp discomfort",
        "facial muscles",
    ],
    "ect": [
        "about 80 %",
        "about a minute",
        "5 to 10 minutes",
        "2 or 3 sessions a week",
        "6 to 12",
        "Confusion",
        "Headache",
        "Jaw pain",
        "Muscle aches",
        "Memory loss",
        "couple of months",
        "Nausea",
        "serious heart problems",
    ],
    "vns": ["four", "chest", "vagus nerve", "five-year", "Hoarseness"],
    "dbs": ["collarbone", "not FDA", "meta-analysis", "medication, psychotherapy or ECT"],
    "ketamine": ["within a day", "at least as well as ECT", "not approved"],
    "esketamine": ["nasal spray", "2019", "January 2025"],
    "psilocybin": ["up to a year", "mushrooms"],
    "celecoxib": ["arthritis", "only one available in the United States", "inflammation"],
    "botox": ["not FDA approved", "still being studied"],
    "psychotherapy": ["coping", "alongside medication", "short-, mid- and long-term"],
}


def text_of(treatment) -> str:
    return str(treatment.model_dump())


@pytest.mark.parametrize(("treatment", "phrases"), ARTICLE_CLAIMS.items())
def test_every_article_claim_is_represented(kb, treatment, phrases):
    text = text_of(kb.treatments[treatment]).lower()
    for phrase in phrases:
        assert phrase.lower() in text, f"{treatment}: {phrase!r}"


def test_esketamine_regulatory_history(kb):
    events = {e.date: (e.status, e.summary) for e in kb.treatments["esketamine"].regulatory}
    assert "oral antidepressant" in events["2019-03"][1]
    assert "suicidal ideation" in events["2020"][1]
    assert "monotherapy" in events["2025-01-21"][1].lower()
    assert kb.treatments["esketamine"].regulatory_status(date(2025, 1, 21)) == "fda_approved"


@pytest.mark.parametrize(
    ("treatment", "status"),
    [
        ("psychotherapy", "standard_care"),
        ("medication_change", "standard_care"),
        ("tms", "fda_cleared"),
        ("ect", "standard_care"),
        ("esketamine", "fda_approved"),
        ("ketamine", "off_label"),
        ("vns", "fda_approved"),
        ("dbs", "investigational"),
        ("psilocybin", "investigational"),
        ("botox", "investigational"),
        ("celecoxib", "investigational"),
    ],
)
def test_current_regulatory_status(kb, treatment, status):
    assert kb.treatments[treatment].regulatory_status(date(2026, 11, 26)) == status


def test_tms_protocols(kb):
    assert {p.id for p in kb.treatments["tms"].protocols} == {
        "rtms-10hz",
        "itbs",
        "accelerated-itbs",
    }
    accelerated = next(p for p in kb.treatments["tms"].protocols if p.id == "accelerated-itbs")
    assert accelerated.sessions_per_day == 10


def test_vns_side_effects_come_from_the_device_labelling(kb):
    effects = kb.treatments["vns"].side_effects
    assert len(effects) >= 5
    labelled = [e for e in effects if "vns_safety_info" in e.sources]
    assert {e.name.split(" ")[0] for e in labelled} >= {"Hoarseness", "Shortness", "Increased"}


def test_every_source_is_cited_somewhere(kb):
    cited = set()
    for rule in kb.rules.values():
        cited.update(rule.sources)
    for drug in kb.drugs.values():
        cited.update(drug.sources)
    for inst in kb.instruments.values():
        cited.update(inst.sources)
    for t in kb.treatments.values():
        cited.update(
            re.findall(
                r"'([a-z0-9_]+)'",
                str(
                    [
                        t.sources,
                        [
                            f.sources
                            for f in (
                                t.schedule,
                                *t.regulatory,
                                *t.protocols,
                                *t.efficacy,
                                *t.side_effects,
                                *t.contraindications,
                                *t.cautions,
                            )
                        ],
                    ]
                ),
            )
        )
    cohort = load_cohort_knowledge(kb)
    for concept_set in cohort.concept_sets.values():
        cited.update(concept_set.sources)
    for param in cohort.parameters.values():
        cited.update(param.sources)
    cited.update(load_fhir_codes().cited())
    assert set(kb.sources) - cited == set()


def test_every_rule_id_named_in_the_code_exists(kb):
    """Rules are looked up by id (kb.rule / kb.params); each id must exist in the data."""
    core = Path(trdnav.core.__file__).parent
    named = set()
    for path in core.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") in {"rule", "params"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                named.add(node.args[0].value)
    assert len(named) >= 10
    assert named - set(kb.rules) == set()


def test_every_treatment_rule_exists_and_every_rule_cites_a_source(kb):
    for rule in kb.rules.values():
        assert rule.sources
    for t in kb.treatments.values():
        assert all(r in kb.rules for r in t.eligibility_rules)


@pytest.mark.parametrize(
    ("name", "generic"),
    [
        ("Zoloft", "sertraline"),
        ("LEXAPRO", "escitalopram"),
        ("effexor xr", "venlafaxine"),
        ("Wellbutrin XL", "bupropion"),
        ("T3", "liothyronine"),
        ("Emsam", "selegiline"),
    ],
)
def test_drug_names_match_brands_and_synonyms(kb, name, generic):
    assert kb.find_drug(name).id == generic


def test_drug_classes_cover_the_staging_hierarchy(kb):
    classes = {d.drug_class for d in kb.drugs.values()}
    assert classes == {"ssri", "snri", "tca", "maoi", "atypical", "augmentation"}
    assert kb.drugs["venlafaxine"].min_daily_dose_mg == 150
    assert kb.drugs["liothyronine"].min_daily_dose_mg == 0.025


def test_condition_vocabulary_includes_every_condition_named_by_the_rules(kb):
    named = {
        "ferromagnetic_head_implant",
        "cochlear_implant",
        "implanted_brain_stimulator",
        "seizure_disorder",
        "serious_heart_disease",
        "recent_myocardial_infarction",
        "raised_intracranial_pressure",
        "aneurysmal_vascular_disease",
        "arteriovenous_malformation",
        "intracerebral_hemorrhage_history",
        "esketamine_hypersensitivity",
        "uncontrolled_hypertension",
        "substance_use_disorder",
        "psychotic_disorder",
    }
    assert named <= set(kb.conditions)


def test_phq9_loinc_codes(kb):
    loinc = kb.instruments["PHQ-9"].loinc
    assert (loinc.panel, loinc.total) == ("44249-1", "44261-6")
    assert loinc.items[8] == "44260-8"
