"""The measure data files: they load, say where they come from, and refuse bad data."""

import shutil
from pathlib import Path

import pytest
import yaml

from trdnav.errors import KnowledgeError, UnknownName
from trdnav.knowledge.measures import (
    MEASURES_DIR,
    build_measure,
    load_measure,
    load_value_sets,
    measure_ids,
)
from trdnav.measures import LOGIC, Population


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    target = tmp_path / "measures"
    shutil.copytree(MEASURES_DIR, target)
    return target


def edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def test_every_measure_file_has_its_logic_and_loads_once():
    assert measure_ids() == sorted(LOGIC) == ["cms159", "cms2"]
    for measure_id in measure_ids():
        measure = load_measure(measure_id)
        assert load_measure(measure_id) is measure
        assert measure.info.source.commit == "db5a7e14"
        assert measure.info.url.startswith("https://madie.cms.gov/Measure/")


def test_measure_identity_and_populations():
    cms159, cms2 = load_measure("cms159").info, load_measure("cms2").info
    assert cms159.canonical == (
        "https://madie.cms.gov/Measure/CMS159FHIRDepressionRemissionatTwelveMonths|0.3.000"
    )
    assert cms2.version == "0.4.001"
    assert Population.DENOMINATOR_EXCEPTION not in cms159.populations
    assert cms2.populations[-1] is Population.DENOMINATOR_EXCEPTION


def test_value_sets_have_their_expansions_and_each_is_used():
    value_sets = load_value_sets()
    sizes = {vs.name: sum(len(c) for c in vs.codes.values()) for vs in value_sets.values()}
    assert sizes["Major Depression Including Remission"] == 79
    assert sizes["Dysthymia"] == 11
    assert sizes["Contact or Office Visit"] == 32
    assert sizes["Bipolar Disorder"] == 148
    assert sizes["Encounter to Screen for Depression"] == 116
    used = {
        oid
        for measure_id in measure_ids()
        for oids in yaml.safe_load((MEASURES_DIR / f"{measure_id}.yaml").read_text())[
            "value_sets"
        ].values()
        for oid in oids
    }
    assert used == set(value_sets)
    for vs in value_sets.values():
        assert vs.url.endswith(vs.oid)


def test_cms159_numbers_come_from_the_data():
    p = load_measure("cms159").config.parameters
    assert (
        p.identification_period_months_before.start,
        p.identification_period_months_before.end,
    ) == (14, 2)
    assert (p.index_score_above, p.remission_score_below, p.minimum_age) == (9, 5, 12)
    assert (p.assessment_months_after_index, p.assessment_window_days) == (12, 60)


def test_a_copy_builds_the_same_measure(folder):
    copy = build_measure("cms2", folder)
    assert copy.info == load_measure("cms2").info
    assert copy.config.parameters == load_measure("cms2").config.parameters


def test_unknown_measure_names_the_known_ones():
    with pytest.raises(UnknownName, match="expected one of cms159, cms2"):
        load_measure("cms999")


def test_a_bad_parameter_names_the_file_and_field(folder):
    edit(folder / "cms159.yaml", lambda d: d["parameters"].update(minimum_age=-1))
    with pytest.raises(KnowledgeError, match=r"measures/cms159.yaml: parameters.minimum_age"):
        build_measure("cms159", folder)


def test_an_unknown_value_set_oid_is_refused(folder):
    edit(folder / "cms2.yaml", lambda d: d["value_sets"].update(bipolar_disorder=["1.2.3.4"]))
    with pytest.raises(KnowledgeError, match=r"value_sets.bipolar_disorder: .*unknown value set"):
        build_measure("cms2", folder)


def test_a_value_set_must_be_marked_as_used_by_the_measure(folder):
    def unmark(data):
        for vs in data["value_sets"]:
            if vs["name"] == "Medical Reason":
                vs["used_by"] = ["cms159"]

    edit(folder / "valuesets.yaml", unmark)
    with pytest.raises(KnowledgeError, match="not marked used_by cms2"):
        build_measure("cms2", folder)


def test_value_set_problems_are_collected(folder):
    def spoil(data):
        data["value_sets"][0]["oid"] = "not-an-oid"
        data["value_sets"][1]["codes"]["http://snomed.info/sct"] *= 2

    edit(folder / "valuesets.yaml", spoil)
    with pytest.raises(KnowledgeError) as info:
        load_value_sets(folder)
    text = "\n".join(info.value.problems)
    assert "valuesets.yaml: value_sets[0].oid" in text
    assert "value_sets[1]: duplicate codes in http://snomed.info/sct" in text


def test_populations_must_match_the_logic(folder):
    edit(folder / "cms159.yaml", lambda d: d["populations"].append("denominator-exception"))
    with pytest.raises(KnowledgeError, match="populations differ from its logic"):
        build_measure("cms159", folder)


def test_the_file_id_must_be_its_name(folder):
    edit(folder / "cms2.yaml", lambda d: d.update(id="cms159"))
    with pytest.raises(KnowledgeError, match="id: expected 'cms2'"):
        build_measure("cms2", folder)


def test_cms2_ages_must_follow_each_other(folder):
    edit(folder / "cms2.yaml", lambda d: d["parameters"].update(either_screen_age=18))
    with pytest.raises(KnowledgeError, match="ages must follow each other"):
        build_measure("cms2", folder)


def test_a_missing_measures_folder_is_a_knowledge_error(tmp_path):
    with pytest.raises(KnowledgeError, match="folder of measure data files is missing"):
        load_measure("cms159", tmp_path / "nowhere")
