"""The cohort engine's concept sets and parameters load, and bad data files are refused."""

import shutil

import pytest

from trdnav.cohort.concepts import PARAMETER_IDS, build_cohort_knowledge
from trdnav.errors import KnowledgeError
from trdnav.knowledge import DATA_DIR


def test_the_packaged_concept_sets_cover_the_knowledge_base(kb, ck):
    assert set(ck.parameters) == set(PARAMETER_IDS)
    assert ck.param("era_gap_days") == 30
    assert ck.phq9_loinc == "44261-6"
    drugs = {e.drug for _, e in ck.entries("drug") if e.drug}
    antidepressants = {d.id for d in kb.drugs.values()}
    assert drugs == antidepressants  # every knowledge-base drug has its RxNorm ingredient
    treatments = {
        e.treatment for _, e in ck.entries("drug") + ck.entries("procedure") if e.treatment
    }
    assert treatments == {"ECT", "TMS", "VNS", "DBS", "esketamine", "ketamine"}
    mdd = ck.concept_sets["mdd"]
    assert len(mdd.concepts) == 79
    assert sum(1 for e in mdd.concepts if e.vocabulary == "ICD10CM") == 15


@pytest.fixture
def copy(tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(DATA_DIR, folder)
    return folder


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "concepts/drugs.yaml",
            "drug: sertraline}",
            "drug: sertralin}",
            "'sertralin' is not a knowledge-base drug",
        ),
        ("concepts/treatments.yaml", "treatment: TMS,", "treatment: rTMS,", "'rTMS' is not one of"),
        (
            "concepts/conditions.yaml",
            "sources: [cms159_valuesets,",
            "sources: [cms159,",
            "unknown source 'cms159'",
        ),
        ("cohort.yaml", "id: era_gap_days", "id: era_gap", "missing parameters ['era_gap_days']"),
        (
            "concepts/drugs.yaml",
            'code: "2556", concept_id: 797617',
            'code: "36437", concept_id: 797617',
            "is also in",
        ),
    ],
)
def test_invalid_concept_data_is_refused_with_the_file_and_field(kb, copy, file, old, new, message):
    path = copy / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        build_cohort_knowledge(kb, copy)
    assert message in str(info.value)
