from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trdnav.measures.results import (
    Evidence,
    MeasurementPeriod,
    MeasureResult,
    PatientResult,
    Population,
    nest,
)

P = Population
ALL = tuple(Population)
CMS159 = ALL[:4]


@given(st.fixed_dictionaries({p: st.booleans() for p in ALL}))
def test_nesting_keeps_each_population_within_the_one_it_refines(met):
    n = nest(met, ALL)
    assert n[P.DENOMINATOR] <= n[P.INITIAL_POPULATION]
    assert n[P.DENOMINATOR_EXCLUSION] <= n[P.DENOMINATOR]
    assert n[P.NUMERATOR] <= (n[P.DENOMINATOR] and not n[P.DENOMINATOR_EXCLUSION])
    assert n[P.DENOMINATOR_EXCEPTION] <= (
        n[P.DENOMINATOR] and not n[P.DENOMINATOR_EXCLUSION] and not n[P.NUMERATOR]
    )
    # nothing met on its own is lost when the populations above it are met
    if met[P.INITIAL_POPULATION] and met[P.DENOMINATOR]:
        assert n[P.DENOMINATOR_EXCLUSION] == met[P.DENOMINATOR_EXCLUSION]


def test_nesting_an_excluded_patient_out_of_the_numerator():
    met = dict.fromkeys(CMS159, True)
    assert nest(met, CMS159) == {
        P.INITIAL_POPULATION: True,
        P.DENOMINATOR: True,
        P.DENOMINATOR_EXCLUSION: True,
        P.NUMERATOR: False,
    }


def result(*rows: tuple[int, ...], populations=ALL) -> MeasureResult:
    patients = tuple(
        PatientResult(f"p{i}", dict(zip(populations, map(bool, row), strict=True)), ())
        for i, row in enumerate(rows)
    )
    return MeasureResult("cms2", MeasurementPeriod.year(2026), populations, patients)


def test_score_leaves_out_exclusions_and_exceptions():
    r = result(
        (1, 1, 0, 1, 0),
        (1, 1, 0, 0, 0),
        (1, 1, 1, 0, 0),
        (1, 1, 0, 0, 1),
        (0, 0, 0, 0, 0),
    )
    assert r.counts() == {
        P.INITIAL_POPULATION: 4,
        P.DENOMINATOR: 4,
        P.DENOMINATOR_EXCLUSION: 1,
        P.NUMERATOR: 1,
        P.DENOMINATOR_EXCEPTION: 1,
    }
    assert r.score == 0.5
    assert [p.score for p in r.patients] == [1.0, 0.0, None, None, None]


def test_no_score_without_anyone_in_the_performance_denominator():
    assert result((1, 1, 1, 0, 0), (0, 0, 0, 0, 0)).score is None
    assert result().score is None


def test_patient_json_has_one_key_per_population_then_evidence():
    ev = Evidence("index_assessment", "PHQ-9 10", "Observation/o1", date(2025, 2, 25))
    patient = PatientResult("p1", dict(zip(CMS159, (True, True, False, True), strict=True)), (ev,))
    assert patient.to_json() == {
        "patient": "p1",
        "initial_population": 1,
        "denominator": 1,
        "denominator_exclusion": 0,
        "numerator": 1,
        "evidence": [
            {
                "criterion": "index_assessment",
                "resource": "Observation/o1",
                "date": "2025-02-25",
                "text": "PHQ-9 10",
            }
        ],
    }
    assert patient[P.DENOMINATOR_EXCEPTION] is False


def test_measurement_period():
    assert str(MeasurementPeriod.year(2026)) == "2026-01-01..2026-12-31"
    with pytest.raises(ValueError, match="before it starts"):
        MeasurementPeriod(date(2026, 2, 1), date(2026, 1, 1))
