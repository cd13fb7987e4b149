"""The phenotype on hand-built OMOP data (DuckDB), every person also checked against the core.

Each scenario is one person of a shared data set, so the engine runs once for all of them;
the scenarios that change a setting run on their own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from trdnav.cohort.lookups import EngineParams

D = dt.date
SCENARIOS = {}


def scenario(pid):
    def register(build):
        SCENARIOS[pid] = build
        return build

    return register


def run(engines, o, **options):
    folder = o.write()
    result = engines.duckdb(folder, **options)
    assert engines.core_mismatches(result, folder) == []
    return result


def episode(result, pid, number=1):
    rows = [
        r for r in result.episodes.to_pylist() if (r["person_id"], r["episode"]) == (pid, number)
    ]
    assert rows, f"no episode {number} of person {pid}"
    return rows[0]


def person(result, pid):
    return next(r for r in result.persons.to_pylist() if r["person_id"] == pid)


@scenario(1)
def switch_then_augmentation(o, pid):
    o.add_person(pid)
    o.mdd(pid, "2024-01-01")
    o.drug(pid, o.SERTRALINE, "2024-01-10", "2024-02-09", quantity=30)
    o.drug(pid, o.SERTRALINE, "2024-02-15", "2024-04-14", days_supply=60, quantity=60)
    o.drug(pid, o.VENLAFAXINE, "2024-04-10", "2024-07-10", days_supply=90, quantity=90)
    o.drug(pid, o.ARIPIPRAZOLE, "2024-07-01", "2024-09-01")
    o.phq9(pid, "2024-01-02", 20)
    o.phq9(pid, "2024-05-20", 3)  # during venlafaxine, the second line


@scenario(2)
def dose_below_minimum(o, pid):
    o.add_person(pid)
    o.mdd(pid, "2024-01-01")
    o.drug(pid, 2_100_000_001, "2024-01-01", "2024-04-01", days_supply=30, quantity=30)
    o.drug(pid, o.VENLAFAXINE, "2024-04-01", "2024-08-01")


@scenario(3)
def dose_unknown(o, pid):
    o.add_person(pid)
    o.mdd(pid, "2024-01-01")
    o.drug(pid, o.SERTRALINE, "2024-01-01", "2024-04-01", days_supply=None)
    o.drug(pid, o.VENLAFAXINE, "2024-04-01", "2024-08-01")


@scenario(4)
def dose_raised(o, pid):
    o.add_person(pid)
    o.mdd(pid, "2024-01-01")
    o.drug(pid, 2_100_000_002, "2024-01-01", "2024-01-31", quantity=30)  # 50 mg
    o.drug(pid, 2_100_000_002, "2024-02-01", "2024-04-01", quantity=90)  # 150 mg
    o.drug(pid, o.VENLAFAXINE, "2024-03-20", "2024-08-01")


@scenario(5)
def no_minimum_dose(o, pid):
    o.add_person(pid)
    o.mdd(pid, "2024-01-01")
    o.drug(pid, o.ISOCARBOXAZID, "2024-01-01", "2024-06-01")
    o.drug(pid, o.SERTRALINE, "2024-05-01", "2024-08-01")


@scenario(6)
def stage_5(o, pid):
    o.add_person(pid)
    o.mdd(pid, "2023-01-01", concept=o.MDD_SEVERE_PSYCHOTIC)
    o.drug(pid, o.SERTRALINE, "2023-01-01", "2023-03-01")
    o.drug(pid, o.VENLAFAXINE, "2023-02-20", "2023-05-01")
    o.drug(pid, o.NORTRIPTYLINE, "2023-04-20", "2023-07-01")
    o.drug(pid, o.PHENELZINE, "2023-06-20", "2023-09-01")
    for n in range(6):
        o.procedure(pid, o.ECT, D(2023, 9, 4) + dt.timedelta(days=2 * n))
    o.drug(pid, o.CITALOPRAM, "2023-09-20", "2023-12-01")


@scenario(7)
def five_ect_sessions(o, pid):
    o.add_person(pid)
    o.mdd(pid, "2023-01-01")
    for n in range(5):
        o.procedure(pid, o.ECT, D(2023, 7, 3) + dt.timedelta(days=2 * n))
    o.drug(pid, o.CITALOPRAM, "2023-07-20", "2023-12-01")


@scenario(8)
def two_episodes(o, pid):
    o.add_person(pid)
    o.mdd(pid, "2020-01-01")
    o.drug(pid, o.SERTRALINE, "2020-01-05", "2020-04-01")
    o.drug(pid, o.VENLAFAXINE, "2020-03-20", "2020-07-01")
    o.drug(pid, o.NORTRIPTYLINE, "2020-06-20", "2020-10-01")
    o.mdd(pid, "2022-01-01")  # more than 365 days later
    o.drug(pid, o.CITALOPRAM, "2022-01-05", "2022-03-01")


@scenario(9)
def phq9_remission_at_12_months(o, pid):
    o.add_person(pid)
    o.mdd(pid, "2023-01-01")
    o.phq9(pid, "2023-01-05", 18)
    o.phq9(pid, "2023-06-01", 8)
    o.phq9(pid, "2023-11-10", 9)  # in the window (due 2024-01-05, from 2023-11-06)
    o.phq9(pid, "2024-02-01", 4)  # the last in the window: remission


@scenario(10)
def phq9_no_remission_at_12_months(o, pid):
    o.add_person(pid)
    o.mdd(pid, "2023-01-01")
    o.phq9(pid, "2023-01-05", 18)
    o.phq9(pid, "2024-01-05", 3)
    o.phq9(pid, "2024-03-04", 7)  # the last in the window, which ends 2024-03-05
    o.phq9(pid, "2024-03-06", 2)  # after the window


@scenario(11)
def phq9_invalid_value(o, pid):
    o.add_person(pid)
    o.mdd(pid, "2023-01-01")
    o.phq9(pid, "2023-01-05", 18)
    o.phq9(pid, "2023-02-01", 12.5)  # not a whole number: left out and reported


@scenario(12)
def icd10_through_the_concept_table(o, pid):
    o.add_person(pid)
    o.rows["concept"].append(
        {
            "concept_id": 2_000_000_777,
            "concept_name": "MDD, recurrent severe without psychotic features",
            "domain_id": "Condition",
            "vocabulary_id": "ICD10CM",
            "concept_class_id": "5-char billing code",
            "standard_concept": None,
            "concept_code": "F33.2",
        }
    )
    o.mdd(pid, "2024-01-01", concept=0, source=2_000_000_777)


@scenario(13)
def esketamine(o, pid):
    o.add_person(pid)
    o.mdd(pid, "2024-01-01")
    o.drug(pid, o.SERTRALINE, "2024-01-01", "2024-04-01")
    o.drug(pid, o.ESKETAMINE, "2024-03-01", "2024-03-01", days_supply=1)


@scenario(14)
def bad_records(o, pid):
    o.add_person(pid)
    o.mdd(pid, "2024-01-01")
    o.drug(pid, o.SERTRALINE, "2024-02-01", "2024-01-01")  # ends before it starts
    o.drug(pid, 0, "2024-02-01", "2024-03-01")  # no concept
    o.drug(pid, o.DOXEPIN, "2024-02-01", "2024-03-01")  # no knowledge-base drug
    o.drug(99, o.SERTRALINE, "2024-02-01", "2024-03-01")  # a person not in the data
    o.phq9(pid, "2024-01-02", 31)  # out of range


@scenario(16)
def observed_until_inside_the_follow_up_window(o, pid):
    """Observation ends on 2024-01-20: the window around 2024-01-05 (to 2024-03-05) is still
    open, and the ECT of 2024-03-01 and the esketamine of 2024-02-01 come after it."""
    o.add_person(pid, observed_to="2024-01-20")
    o.mdd(pid, "2023-01-01")
    o.phq9(pid, "2023-01-05", 18)
    o.phq9(pid, "2023-12-20", 3)  # in the window, but a later total could still come
    o.procedure(pid, o.ECT, "2023-06-01")
    o.procedure(pid, o.ECT, "2024-03-01")
    o.drug(pid, o.ESKETAMINE, "2024-02-01", "2024-02-01", days_supply=1)


@scenario(15)
def not_depressed(o, pid):
    o.add_person(pid, observed_to=None)
    o.add_person(pid, observed_to=None)  # the same person twice
    o.drug(pid, o.SERTRALINE, "2024-02-01", "2024-06-01")


@pytest.fixture(scope="module")
def shared(engines, new_omop):
    o = new_omop()
    o.strength(2_100_000_001, o.SERTRALINE, 25)
    o.strength(2_100_000_002, o.SERTRALINE, 50)
    o.strength(o.SERTRALINE, o.SERTRALINE, 100)
    o.strength(o.VENLAFAXINE, o.VENLAFAXINE, 150)
    ids = {}
    for pid, build in SCENARIOS.items():
        first = dict(o.ids)
        build(o, pid)
        ids[build.__name__] = {t: list(range(first[t] + 1, o.ids[t] + 1)) for t in o.ids}
    result = run(engines, o, as_of=D(2025, 6, 1))
    result.ids = ids
    return result


def test_third_regimen_after_two_failed_adequate_trials_dates_trd(shared):
    e = episode(shared, 1)
    assert e["trd"] is True
    assert e["trd_date"] == D(2024, 7, 1)
    assert e["days_to_trd"] == (D(2024, 7, 1) - D(2024, 1, 1)).days
    assert (e["failed_trials"], e["failed_drugs"], e["augmentation_trials"]) == (2, 2, 1)
    assert e["thase_rush"] == 2
    assert e["mgh_s"] == 2.5
    assert (e["lines"], e["line_1"], e["line_2"], e["line_3"]) == (
        3,
        "sertraline",
        "venlafaxine",
        "aripiprazole",
    )
    assert e["remission_line"] == 2
    assert e["severity"] is None  # no severity coded: no MSM total
    assert e["msm_total"] is None
    assert (e["msm_duration_months"], e["msm_failed_antidepressants"]) == (17, 1)
    p = person(shared, 1)
    assert (p["trd"], p["episodes"], p["as_of"]) == (True, 1, D(2025, 6, 1))


def test_dose_below_the_minimum_is_not_adequate(shared):
    assert episode(shared, 2)["failed_trials"] == 0


def test_unknown_dose_is_judged_on_duration_and_reported(shared):
    assert episode(shared, 3)["failed_trials"] == 1
    found = {f.check: f for f in shared.findings}
    assert shared.ids["dose_unknown"]["drug_exposure"][0] in found["dose_unknown"].examples


def test_raised_dose_is_dose_optimised(shared):
    e = episode(shared, 4)
    assert e["dose_optimized_failed_trials"] == 1
    assert e["mgh_s"] == 1.5


def test_a_drug_without_an_adequate_dose_is_never_adequate(shared):
    assert episode(shared, 5)["failed_trials"] == 0


def test_failed_tca_maoi_and_ect_course_reach_stage_5(shared):
    """An SSRI, an SNRI, then a TCA and an MAOI beyond them, then a failed ECT course."""
    e = episode(shared, 6)
    assert (e["thase_rush"], e["ect_courses"], e["failed_ect_courses"]) == (5, 1, 1)
    assert e["mgh_s"] == 4 + 3
    assert (e["severity"], e["psychotic_features"]) == ("severe", True)
    assert (e["msm_severity"], e["msm_ect"], e["msm_failed_antidepressants"]) == (5, 1, 2)
    p = person(shared, 6)
    assert (p["ect_first_date"], p["tms_first_date"]) == (D(2023, 9, 4), None)


def test_five_ect_sessions_are_not_a_failed_course(shared):
    e = episode(shared, 7)
    assert (e["ect_courses"], e["failed_ect_courses"]) == (1, 0)


def test_a_long_gap_between_depression_records_starts_a_new_episode(shared):
    first, second = episode(shared, 8, 1), episode(shared, 8, 2)
    assert first["as_of"] == D(2021, 12, 31)
    assert (first["trd"], second["trd"]) == (True, False)
    assert (second["recurrent"], second["failed_trials"]) == (True, 0)
    p = person(shared, 8)
    assert (p["episodes"], p["episode"], p["trd"]) == (2, 1, True)  # the first TRD episode


def test_phq9_outcomes_and_remission_at_12_months(shared):
    one, two, three = (episode(shared, pid) for pid in (9, 10, 11))
    assert (one["phq9_baseline"], one["phq9_latest"], one["phq9_count"]) == (18, 4, 4)
    assert (one["phq9_response"], one["phq9_remission"], one["remission_12m"]) == (
        True,
        True,
        True,
    )
    assert two["remission_12m"] is False
    assert (three["phq9_count"], three["phq9_response"], three["remission_12m"]) == (
        1,
        None,
        None,
    )
    found = {f.check: f.examples for f in shared.findings}
    assert shared.ids["phq9_invalid_value"]["measurement"][1] in found["invalid_value"]


def test_results_stop_at_the_persons_assessment_date(shared):
    e, p = episode(shared, 16), person(shared, 16)
    assert e["as_of"] == D(2024, 1, 20)
    assert (e["phq9_latest"], e["phq9_remission"]) == (3, True)
    assert e["remission_12m"] is None  # pending: the window is open on 2024-01-20
    assert (p["ect_first_date"], p["esketamine_first_date"]) == (D(2023, 6, 1), None)
    found = {(f.check, f.table): (f.count, f.examples) for f in shared.findings}
    ids = shared.ids["observed_until_inside_the_follow_up_window"]
    assert found[("after_as_of", "procedure_occurrence")] == (
        1,
        [ids["procedure_occurrence"][1]],
    )
    assert found[("after_as_of", "drug_exposure")] == (1, ids["drug_exposure"])
    assert ("after_as_of", "condition_occurrence") not in found


def test_icd10_codes_resolve_through_the_concept_table(shared):
    e = episode(shared, 12)
    assert (e["severity"], e["recurrent"], e["msm_severity"]) == ("severe", True, 4)


def test_esketamine_is_a_treatment_not_a_trial(shared):
    e = episode(shared, 13)
    assert (e["failed_trials"], e["lines"]) == (0, 1)
    assert person(shared, 13)["esketamine_first_date"] == D(2024, 3, 1)


def test_bad_data_is_reported_with_counts_and_examples(shared):
    found = {(f.check, f.table): (f.count, f.examples) for f in shared.findings}
    ids = shared.ids["bad_records"]
    end_before_start, no_concept, doxepin, stranger = ids["drug_exposure"]
    assert found[("dates_out_of_order", "drug_exposure")] == (1, [end_before_start])
    assert found[("unknown_concept", "drug_exposure")] == (1, [no_concept])
    assert found[("drug_without_knowledge", "drug_exposure")] == (1, [doxepin])
    assert found[("unknown_person", "drug_exposure")] == (1, [stranger])
    assert found[("invalid_value", "measurement")][0] == 2
    assert found[("no_episode", "person")] == (1, [15])
    assert found[("duplicate_person", "person")] == (1, [15])
    assert [r["person_id"] for r in shared.persons.to_pylist()].count(15) == 1
    p = person(shared, 15)
    assert (p["episodes"], p["trd"], p["as_of"]) == (0, False, D(2025, 6, 1))


def test_a_missing_table_is_reported_and_treated_as_empty(engines, omop):
    omop.add_person(1)
    omop.mdd(1, "2024-01-01")
    omop.skip.update({"procedure_occurrence", "concept_ancestor"})
    result = run(engines, omop)
    found = {(f.check, f.table): f.count for f in result.findings}
    assert found[("missing_table", "procedure_occurrence")] == 1
    assert found[("missing_table", "concept_ancestor")] == 1
    assert episode(result, 1)["ect_courses"] == 0


@pytest.mark.parametrize(
    ("second_fill", "era_gap_days", "failed"),
    [
        ("2024-03-01", None, 1),  # 30 days after the first fill ends: one era of 90 days
        ("2024-03-02", None, 0),  # 31 days: two eras of 30 days, neither adequate
        ("2024-03-02", 31, 1),  # unless the era gap is 31 days
    ],
)
def test_exposures_merge_into_an_era_across_the_era_gap(
    engines, omop, second_fill, era_gap_days, failed
):
    o = omop.add_person(1)
    o.mdd(1, "2024-01-01")
    o.drug(1, o.CITALOPRAM, "2024-01-01", "2024-01-31")
    start = D.fromisoformat(second_fill)
    o.drug(1, o.CITALOPRAM, start, start + dt.timedelta(days=30))
    o.drug(1, o.VENLAFAXINE, start + dt.timedelta(days=20), "2024-08-01")
    result = run(engines, o, era_gap_days=era_gap_days)
    assert episode(result, 1)["failed_trials"] == failed


def test_durations_switch_windows_and_the_adequate_duration_setting(engines, omop):
    o = omop
    cases = {  # person: (citalopram end, next drug start, failed with 42 days, with 28 days)
        1: ("2024-02-11", "2024-02-12", 0, 1),  # 41 days
        2: ("2024-02-12", "2024-02-12", 1, 1),  # 42 days
        3: ("2024-06-01", "2024-01-20", 0, 0),  # combined from the start
        4: ("2024-06-01", "2024-07-01", 1, 1),  # 30 days after the end
        5: ("2024-06-01", "2024-07-02", 0, 0),  # 31 days after: a new start
        6: ("2024-02-01", "2024-02-01", 0, 1),  # 31 days: adequate only with 28
    }
    for pid, (end, nxt, _, _) in cases.items():
        o.add_person(pid)
        o.mdd(pid, "2024-01-01")
        o.drug(pid, o.CITALOPRAM, "2024-01-01", end)
        o.drug(pid, o.ARIPIPRAZOLE, nxt, "2024-10-01")
    six_weeks = run(engines, o)
    four_weeks = run(engines, o, adequate_trial_days=28)
    for pid, (_, _, failed, failed_28) in cases.items():
        assert episode(six_weeks, pid)["failed_trials"] == failed, pid
        assert episode(four_weeks, pid)["failed_trials"] == failed_28, pid


def test_a_negative_era_or_episode_gap_is_refused(engines):
    with pytest.raises(ValueError, match="era_gap_days"):
        EngineParams.from_knowledge(engines.kb, engines.ck, D(2025, 1, 1), era_gap_days=-1)
    params = EngineParams.from_knowledge(engines.kb, engines.ck, D(2025, 1, 1))
    with pytest.raises(ValueError, match="episode_gap_days"):
        dataclasses.replace(params, episode_gap_days=-1)


def test_a_null_person_id_hides_unknown_persons_as_not_in_does(engines, omop):
    o = omop.add_person(1)
    o.mdd(1, "2024-01-01")
    o.drug(99, o.CITALOPRAM, "2024-01-01", "2024-03-01")
    found = {(f.check, f.table) for f in run(engines, o).findings}
    assert ("unknown_person", "drug_exposure") in found
    assert ("missing_id", "person") not in found
    o.rows["person"].append({**o.rows["person"][0], "person_id": None})
    counted = {(f.check, f.table): (f.count, f.examples) for f in run(engines, o).findings}
    assert ("unknown_person", "drug_exposure") not in counted
    assert counted[("missing_id", "person")] == (1, [])  # reported, not silently dropped


@pytest.mark.parametrize(
    ("observed_to", "as_of"),
    [
        ("2025-06-01", "2025-06-01"),  # the last observation period's end
        (None, "2024-09-01"),  # none: the last record of any table (here a PHQ-9)
    ],
)
def test_the_default_assessment_date(engines, omop, observed_to, as_of):
    o = omop.add_person(1, observed_to=observed_to)
    o.mdd(1, "2024-01-01")
    o.drug(1, o.SERTRALINE, "2024-01-10", "2024-03-09", days_supply=60)
    o.phq9(1, "2024-09-01", 12)
    assert run(engines, o).as_of == dt.date.fromisoformat(as_of)
