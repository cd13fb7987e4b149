"""The synthetic OMOP generator: seeded, plausible, with its own vocabulary."""

import pyarrow.parquet as pq

from trdnav.cohort.synth import LOCAL_CONCEPT_BASE, SynthConfig, generate


def test_the_same_seed_gives_the_same_data(ck, tmp_path):
    a = generate(SynthConfig(persons=300, seed=5, chunk_size=300), ck, tmp_path / "a")
    b = generate(SynthConfig(persons=300, seed=5, chunk_size=300), ck, tmp_path / "b")
    assert a == b
    for table in ("drug_exposure", "measurement", "condition_occurrence"):
        assert pq.read_table(tmp_path / "a" / table).equals(pq.read_table(tmp_path / "b" / table))
    c = generate(SynthConfig(persons=300, seed=6, chunk_size=300), ck, tmp_path / "c")
    assert c != a


def test_volumes_and_vocabulary_are_plausible(ck, tmp_path):
    counts = generate(SynthConfig(persons=2000, seed=1), ck, tmp_path)
    assert counts["person"] == 2000
    assert 7 <= counts["drug_exposure"] / 2000 <= 13  # about ten exposures per person
    assert counts["measurement"] > counts["person"]
    concept = pq.read_table(tmp_path / "concept.parquet").to_pylist()
    by_code = {(c["vocabulary_id"], c["concept_code"]): c["concept_id"] for c in concept}
    assert by_code[("RxNorm", "36437")] == 739138  # a given OMOP id is kept
    assert by_code[("LOINC", "44261-6")] > LOCAL_CONCEPT_BASE  # no trusted id: a local one
    strength = pq.read_table(tmp_path / "drug_strength.parquet")
    assert min(strength.column("drug_concept_id").to_pylist()) > LOCAL_CONCEPT_BASE


def test_clean_data_has_no_deliberate_errors(ck, tmp_path):
    generate(SynthConfig(persons=500, seed=2, bad_data=False), ck, tmp_path)
    exposures = pq.read_table(tmp_path / "drug_exposure").to_pylist()
    assert all(e["drug_concept_id"] != 0 for e in exposures)
    assert all(
        e["drug_exposure_end_date"] is None
        or e["drug_exposure_end_date"] >= e["drug_exposure_start_date"]
        for e in exposures
    )
    values = pq.read_table(tmp_path / "measurement").column("value_as_number").to_pylist()
    assert all(0 <= v <= 27 and v == int(v) for v in values)
