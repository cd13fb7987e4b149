"""The FHIR code files load, agree with the knowledge base and the value sets, and bad data
is refused with the file and field named."""

import shutil

import pytest
import yaml

from trdnav.errors import KnowledgeError
from trdnav.knowledge.fhir_codes import FHIR_DIR, build_fhir_codes, load_fhir_codes
from trdnav.measures.records import Coding

LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def test_the_packaged_codes_load_and_agree_with_the_knowledge_base(kb):
    codes = load_fhir_codes()
    assert codes.instrument_codes[(LOINC, "44249-1")] == ("PHQ-9", "panel", 0)
    assert codes.instrument_codes[(LOINC, "44260-8")] == ("PHQ-9", "item", 9)
    assert codes.drug_codes[(RXNORM, "36437")] == "sertraline"
    assert set(codes.drug_codes.values()) <= set(kb.drugs)
    assert codes.major_depression.matches(Coding("http://hl7.org/fhir/sid/icd-10-cm", "F33.1"))
    assert codes.bipolar.matches(Coding("http://hl7.org/fhir/sid/icd-10-cm", "F31.9"))
    seizure = next(m for c, _, m in codes.findings if c == "seizure_disorder")
    assert seizure.matches(Coding("http://hl7.org/fhir/sid/icd-10-cm", "G40.909"))
    assert not seizure.matches(Coding("http://hl7.org/fhir/sid/icd-10-cm", "G41"))
    assert codes.drug_names.find("Sertraline 100 MG Oral Tablet [Zoloft]") == {"sertraline"}
    assert codes.order_names.find("esketamine 28 MG Nasal Spray") == {"esketamine"}
    assert codes.order_names.find("ketamine 50 MG/ML Injectable Solution") == {"ketamine"}


def _copy(tmp_path):
    folder = tmp_path / "fhir"
    shutil.copytree(FHIR_DIR, folder)
    return folder


def _edit(folder, name, change):
    path = folder / f"{name}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        (
            "medications",
            lambda d: d["drugs"]["codes"].update({"sertralin": ["1"]}),
            "fhir/medications.yaml: drugs.codes.sertralin: unknown drug",
        ),
        (
            "medications",
            lambda d: d["drugs"]["codes"].update({"paroxetine": ["36437"]}),
            "36437 means both 'paroxetine' and 'sertraline'",
        ),
        (
            "conditions",
            lambda d: d["findings"][0].update({"value_sets": ["1.2.3"]}),
            "unknown value set 1.2.3",
        ),
        (
            "conditions",
            lambda d: d["findings"][1].update({"condition": "epilepsyy"}),
            "findings[1].condition: unknown condition 'epilepsyy'",
        ),
        (
            "conditions",
            lambda d: d["findings"][1].update({"sources": ["nowhere"]}),
            "unknown source 'nowhere'",
        ),
        (
            "procedures",
            lambda d: d["procedures"][0]["codes"].update({"cptt": ["90870"]}),
            "unknown code system 'cptt'",
        ),
        (
            "procedures",
            lambda d: d["procedures"][1]["codes"].update({"cpt": ["90870"]}),
            "means both 'ECT' and 'TMS'",
        ),
        ("codes", lambda d: d["local"]["assessment"].pop("mgh-s"), "missing the code 'mgh-s'"),
        ("codes", lambda d: d.pop("systems"), "fhir/codes.yaml: systems: Field required"),
        (
            "conditions",
            lambda d: d["episode"]["export"]["single"].update({"mild": "F33.0"}),
            "episode.export.single.mild: F33.0 must be an ICD-10-CM facet with recurrent: False",
        ),
        (
            "instruments",
            lambda d: d["answers"]["codes"][0].update({"score": -1}),
            "fhir/instruments.yaml: answers.codes[0].score",
        ),
    ],
)
def test_bad_data_is_refused_naming_the_file_and_field(tmp_path, kb, name, change, message):
    folder = _copy(tmp_path)
    _edit(folder, name, change)
    with pytest.raises(KnowledgeError) as info:
        build_fhir_codes(folder, kb)
    assert any(message in problem for problem in info.value.problems), info.value.problems
