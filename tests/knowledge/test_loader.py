import shutil
from pathlib import Path

import pytest
import yaml

from trdnav.errors import KnowledgeError
from trdnav.knowledge import DATA_DIR, load_knowledge
from trdnav.knowledge.loader import build_knowledge


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(DATA_DIR, target)
    return target


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_packaged_knowledge_loads_once(kb):
    assert load_knowledge() is load_knowledge()
    assert kb.version
    assert build_knowledge(DATA_DIR) == kb


def test_a_copy_loads_identically(data_copy, kb):
    assert build_knowledge(data_copy).model_dump() == kb.model_dump()


def test_unknown_source_is_reported_with_its_place(data_copy):
    edit(
        data_copy / "treatments" / "tms.yaml",
        lambda d: d["side_effects"][0].update(sources=["no_such_source"]),
    )
    with pytest.raises(KnowledgeError, match="treatment tms side effect Headache: unknown source"):
        build_knowledge(data_copy)


def test_field_errors_name_the_file(data_copy):
    edit(data_copy / "drugs.yaml", lambda d: d["drugs"][0].update(drug_class="opioid"))
    with pytest.raises(KnowledgeError, match=r"drugs.yaml: citalopram.drug_class"):
        build_knowledge(data_copy)


def _first_drug(d):
    d["drugs"][0]["id"] = "d" * 65


def _first_phase(d):
    d["templates"][0]["phases"][0]["name"] = "p" * 33


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        (
            "instruments.yaml",
            lambda d: d["instruments"][0].update(id="I" * 17),
            r"instruments.yaml: I{17}.id: String should have at most 16 characters",
        ),
        ("drugs.yaml", _first_drug, r"drugs.yaml: d{65}.id: String should have at most 64"),
        (
            "courses.yaml",
            _first_phase,
            r"courses.yaml: tms-10hz.phases\[0\].name: String should have at most 32",
        ),
        (
            "manifest.yaml",
            lambda d: d.update(version="2026." + "9" * 40),
            r"version: String should have at most 40 characters",
        ),
    ],
)
def test_names_kept_with_patients_fit_where_they_are_kept(data_copy, file, change, message):
    """A measurement keeps its instrument's id in 16 characters, a trial its drug's in 64, a
    planned session its phase's name in 32, a patient's summary the version in 64 with the
    trial-days setting: a knowledge directory with longer ones is refused on load, not by the
    database later."""
    edit(data_copy / file, change)
    with pytest.raises(KnowledgeError, match=message):
        build_knowledge(data_copy)


def test_treatment_set_is_fixed(data_copy):
    edit(data_copy / "manifest.yaml", lambda d: d["treatments"].remove("botox"))
    with pytest.raises(KnowledgeError, match="treatments must be exactly"):
        build_knowledge(data_copy)


def test_rule_parameters_are_validated(data_copy):
    def change(d):
        rule = next(r for r in d["rules"] if r["id"] == "trial.adequate")
        rule["parameters"] = {"min_duration_days": "six weeks"}

    edit(data_copy / "rules.yaml", change)
    with pytest.raises(KnowledgeError, match=r"rule trial\.adequate: invalid parameters"):
        build_knowledge(data_copy)


def test_instrument_bands_must_cover_the_scale(data_copy):
    edit(data_copy / "instruments.yaml", lambda d: d["instruments"][0]["bands"].pop())
    with pytest.raises(KnowledgeError, match="PHQ-9: bands end at 19, total max is 27"):
        build_knowledge(data_copy)


def test_a_drug_name_may_belong_to_one_drug_only(data_copy):
    edit(data_copy / "drugs.yaml", lambda d: d["drugs"][1]["brands"].append("Zoloft"))
    with pytest.raises(KnowledgeError, match="'Zoloft' is used by"):
        build_knowledge(data_copy)


def test_sources_need_a_locator(data_copy):
    edit(data_copy / "sources.yaml", lambda d: d["sources"][0].pop("doi"))
    with pytest.raises(KnowledgeError, match="needs a url or a doi"):
        build_knowledge(data_copy)


def test_broken_yaml_and_missing_files(data_copy):
    (data_copy / "rules.yaml").write_text("rules: [unclosed", encoding="utf-8")
    with pytest.raises(KnowledgeError, match=r"rules\.yaml: not valid YAML"):
        build_knowledge(data_copy)
    (data_copy / "rules.yaml").unlink()
    with pytest.raises(KnowledgeError, match=r"rules\.yaml: file is missing"):
        build_knowledge(data_copy)


def test_duplicate_ids(data_copy):
    edit(data_copy / "conditions.yaml", lambda d: d["conditions"].append(d["conditions"][0]))
    with pytest.raises(KnowledgeError, match="duplicate id 'ferromagnetic_head_implant'"):
        build_knowledge(data_copy)
