"""The engines agree with each other and with the per-patient core, on generated cohorts.

* DuckDB against the core: hypothesis builds small cohorts person by person, with random
  exposures around the era gap and the six-week boundary, switches, augmentations, ECT days,
  severity codes, PHQ-9 totals (some invalid) and a second episode now and then; and runs the
  synthetic generator with random seeds and settings.
* PostgreSQL against DuckDB: identical tables (per person, per episode, data checks).
* Spark: ``test_spark.py``.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trdnav.cohort.synth import SynthConfig, generate

D = dt.date
START = D(2020, 1, 1)
DRUGS = [
    739138,  # sertraline
    797617,  # citalopram
    743670,  # venlafaxine
    721724,  # nortriptyline
    733896,  # phenelzine
    781705,  # isocarboxazid (no adequate dose)
    757688,  # aripiprazole (augmentation)
    2_100_000_001,  # sertraline 50 mg tablet (via concept_ancestor)
    738156,  # doxepin (no knowledge-base drug)
]
CONDITIONS = [4152280, 438406, 4049623, 435220, 438998, 0]
SLOW = settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

exposure = st.tuples(
    st.sampled_from(DRUGS),
    st.integers(0, 500),  # start, days after the first record
    st.integers(-3, 120),  # length in days (negative: ends before it starts)
    st.sampled_from([None, 30, 0]),  # days_supply
    st.sampled_from([None, 15.0, 30.0, 60.0, 90.0]),  # quantity
    st.booleans(),  # end date given
)
person_strategy = st.fixed_dictionaries(
    {
        "mdd": st.lists(st.tuples(st.integers(-30, 900), st.sampled_from(CONDITIONS)), max_size=4),
        "exposures": st.lists(exposure, max_size=9),
        "ect": st.lists(st.integers(0, 400), max_size=8),
        "phq9": st.lists(
            st.tuples(
                st.integers(-20, 800), st.sampled_from([0, 3, 4, 5, 9, 10, 15, 22, 27, 12.5, 30])
            ),
            max_size=6,
        ),
        "observed_days": st.one_of(st.none(), st.integers(100, 1200)),
    }
)


def build(o, people):
    o.strength(2_100_000_001, 739138, 50)
    o.strength(739138, 739138, 100)
    o.strength(743670, 743670, 75)
    o.strength(721724, 721724, 25)
    for pid, p in enumerate(people, start=1):
        observed = None if p["observed_days"] is None else START + dt.timedelta(p["observed_days"])
        o.add_person(pid, observed_to=observed)
        for offset, concept in p["mdd"]:
            o.mdd(pid, START + dt.timedelta(offset), concept=concept)
        for concept, offset, length, supply, quantity, with_end in p["exposures"]:
            start = START + dt.timedelta(offset)
            end = start + dt.timedelta(length) if with_end else None
            o.drug(pid, concept, start, end, days_supply=supply, quantity=quantity)
        for offset in p["ect"]:
            o.procedure(pid, o.ECT, START + dt.timedelta(offset))
        for offset, total in p["phq9"]:
            o.phq9(pid, START + dt.timedelta(offset), total)
    return o.write()


@SLOW
@given(
    people=st.lists(person_strategy, min_size=1, max_size=12),
    era_gap=st.sampled_from([None, 0, 14, 45]),
    adequate=st.sampled_from([None, 28, 56]),
)
def test_duckdb_agrees_with_the_core_on_hand_shaped_cohorts(
    engines, new_omop, people, era_gap, adequate
):
    folder = build(new_omop(), people)
    result = engines.duckdb(
        folder, as_of=D(2023, 6, 30), era_gap_days=era_gap, adequate_trial_days=adequate
    )
    assert engines.core_mismatches(result, folder) == []


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 10_000), persons=st.integers(20, 120))
def test_duckdb_agrees_with_the_core_on_synthetic_cohorts(
    engines, ck, tmp_path_factory, seed, persons
):
    folder = tmp_path_factory.mktemp("synth")
    generate(SynthConfig(persons=persons, seed=seed, chunk_size=40), ck, folder)
    result = engines.duckdb(folder)
    assert engines.core_mismatches(result, folder) == []


def same(a, b):
    """Two runs gave identical results: episodes, persons (values and types), findings."""
    assert a.as_of == b.as_of
    assert a.episodes.to_pylist() == b.episodes.to_pylist()
    assert a.persons.to_pylist() == b.persons.to_pylist()
    assert a.persons.schema == b.persons.schema
    assert [f.to_dict() for f in a.findings] == [f.to_dict() for f in b.findings]


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people=st.lists(person_strategy, min_size=1, max_size=10))
def test_postgres_and_duckdb_give_identical_results(engines, new_omop, postgres_url, people):
    folder = build(new_omop(), people)
    same(engines.duckdb(folder), engines.postgres(folder, postgres_url))


def test_postgres_agrees_on_a_synthetic_cohort(engines, ck, tmp_path, postgres_url):
    generate(SynthConfig(persons=300, seed=7), ck, tmp_path)
    duck = engines.duckdb(tmp_path, era_gap_days=21)
    same(duck, engines.postgres(tmp_path, postgres_url, era_gap_days=21))
    assert engines.core_mismatches(duck, tmp_path) == []
