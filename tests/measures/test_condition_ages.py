"""Onsets and abatements given as an Age or a Range of ages, counted from the birth date as the
measures' CQL does (an onset age of 20 years is the 20th birthday; a Range runs from its low
age to the day before the birthday after its high one); and an abatement Period, which the
CQL makes end just before its end.

Each chart is written as a FHIR Bundle file and measured for 2026 (the ``measured`` fixture).
CMS2: a patient born 2000-03-15 with a screening visit on 2026-06-21 and a negative adult
screen; populations (IP, DEN, DENEX, NUM, DENEXCEP). CMS159: a patient born 2010-06-01 with an
office visit and a PHQ-9 of 10 on 2025-02-25; populations (IP, DEN, DENEX, NUM).
"""

import pytest

UCUM = "http://unitsofmeasure.org"


def age(value: float, code: str = "a") -> dict:
    return {"value": value, "unit": "years" if code == "a" else code, "system": UCUM, "code": code}


@pytest.fixture
def screened(make_chart):
    def build(birth="2000-03-15"):
        chart = make_chart(birth=birth)
        chart.encounter(
            "2026-06-21T08:00:00Z", "2026-06-21T08:15:00Z", code=chart.SCREENING_ENCOUNTER
        )
        chart.screen("2026-06-15T08:00:00Z", chart.ADULT_SCREEN, chart.NEGATIVE)
        return chart

    return build


@pytest.mark.parametrize(
    ("timing", "excluded", "onset"),
    [
        pytest.param({"onsetAge": age(20)}, 1, "2020-03-15, at age 20 years", id="onset-age-20"),
        # 26 years on 2026-03-15 is before the visit; 27 (in 2027) is not
        pytest.param({"onsetAge": age(26)}, 1, "2026-03-15, at age 26 years", id="onset-age-26"),
        pytest.param({"onsetAge": age(27)}, 0, None, id="future-onset-age-27"),
        pytest.param({"onsetAge": age(316, "mo")}, 0, None, id="onset-age-316-months-2026-07-15"),
        pytest.param(
            {"onsetRange": {"low": age(18), "high": age(22)}},
            1,
            "2018-03-15, at age 18 years to 22 years",
            id="onset-range-18-to-22",
        ),
        pytest.param({"onsetRange": {"low": age(30)}}, 0, None, id="onset-range-from-30"),
        # a Range without a low age starts at the beginning of time, as no onset does
        pytest.param({"onsetRange": {"high": age(30)}}, 1, None, id="onset-range-up-to-30"),
    ],
)
def test_a_bipolar_onset_age_before_the_visit_excludes(screened, measured, timing, excluded, onset):
    chart = screened()
    chart.condition(None, code=chart.BIPOLAR, verification=None, **timing)
    found = measured("cms2", chart)
    assert found.populations == (1, 1, excluded, 1 - excluded, 0)
    if excluded:
        said = found.evidence("exclusion.bipolar_disorder")
        expected = f", onset {onset}," if onset else ", no onset given,"
        assert expected in said["text"]
        assert said["date"] == (onset.split(",")[0] if onset else None)


def test_an_onset_age_from_a_birth_year_is_a_year(screened, measured):
    """Born in 2000, 26 years old some day in 2026: not known to be before 21 June 2026."""
    chart = screened(birth="2000")
    chart.condition(None, code=chart.BIPOLAR, verification=None, onsetAge=age(26))
    assert measured("cms2", chart).populations == (1, 1, 0, 1, 0)
    chart = screened(birth="2000")
    chart.condition(None, code=chart.BIPOLAR, verification=None, onsetAge=age(25))
    found = measured("cms2", chart)
    assert found.populations == (1, 1, 1, 0, 0)
    assert found.evidence("exclusion.bipolar_disorder")["date"] == "2025"


@pytest.mark.parametrize(
    ("abatement", "in_population"),
    [
        # the condition abated at 14: up to the day before the 15th birthday, 2025-05-31
        pytest.param({"abatementAge": age(14)}, 1, id="abated-at-14-after-the-visit"),
        pytest.param({"abatementAge": age(13)}, 0, id="abated-at-13-before-the-visit"),
        pytest.param({"abatementRange": {"low": age(12), "high": age(13)}}, 0, id="range-12-13"),
        pytest.param({"abatementRange": {"low": age(12)}}, 1, id="range-without-high-no-end"),
    ],
)
def test_a_depression_abated_at_an_age_before_the_visit_has_no_index(
    make_chart, measured, abatement, in_population
):
    chart = make_chart(birth="2010-06-01")
    chart.condition("2023-01-10", **abatement)
    chart.encounter("2025-02-25T14:30:00Z", "2025-02-25T14:50:00Z")
    chart.phq9("2025-02-25T14:35:00Z", 10)
    assert measured("cms159", chart).populations[0] == in_population


@pytest.mark.parametrize(
    ("onset", "excluded"),
    [
        pytest.param(age(15), 1, id="15th-birthday-2025-06-01-before-the-end"),
        pytest.param(age(16), 0, id="16th-birthday-2026-06-01-after-the-end"),
    ],
)
def test_a_mental_health_disorder_from_an_onset_age_on_or_before_the_assessment_period_end(
    make_chart, measured, onset, excluded
):
    chart = make_chart(birth="2010-06-01")
    chart.condition("2023-01-10")
    chart.encounter("2025-02-25T14:30:00Z", "2025-02-25T14:50:00Z")
    chart.phq9("2025-02-25T14:35:00Z", 10)
    chart.phq9("2026-02-19T09:00:00Z", 3)
    chart.condition(None, code=chart.BIPOLAR, onsetAge=onset)
    assert measured("cms159", chart).populations == (1, 1, excluded, 1 - excluded)


HOSPICE_DIAGNOSIS = ("http://snomed.info/sct", "170935008")


@pytest.mark.parametrize(
    ("end", "excluded"),
    [
        # abatementInterval() is Interval[start, end): it ends the day before 2024-11-01
        pytest.param("2024-11-01", 0, id="ends-before-the-window-starts"),
        pytest.param("2024-11-02", 1, id="ends-on-its-first-day"),
        pytest.param("2024-11-01T10:00:00Z", 1, id="ends-in-its-first-day"),
    ],
)
def test_an_abatement_period_ends_just_before_its_end(make_chart, measured, end, excluded):
    chart = make_chart(birth="2010-06-01")
    chart.condition("2023-01-10")
    chart.encounter("2025-02-25T14:30:00Z", "2025-02-25T14:50:00Z")
    chart.phq9("2025-02-25T14:35:00Z", 10)
    chart.phq9("2026-02-19T09:00:00Z", 3)
    chart.condition(
        "2024-06-01", code=HOSPICE_DIAGNOSIS, abatementPeriod={"start": "2024-06-01", "end": end}
    )
    assert measured("cms159", chart).populations == (1, 1, excluded, 1 - excluded)
