"""Dates given only to the year or month, as the measures' CQL reads them: a comparison the
date cannot settle is unknown, and unknown is not met.

Each chart is written as a FHIR Bundle file, read as the command line reads it, and measured
for 2026 (the ``measured`` fixture); the JSON evidence shows such a date as given (``2013``).
The CMS159 baseline: major depression since 2023-01-10, an office visit on 2025-02-25 with a
PHQ-9 of 10, so the assessment period is 2025-12-27..2026-04-26. The CMS2 baseline: a
screening visit on 2026-06-21.
"""

import pytest


@pytest.fixture
def indexed(make_chart):
    def build(birth="2010-06-01", **visit):
        chart = make_chart(birth=birth)
        chart.condition("2023-01-10")
        chart.encounter(
            visit.get("start", "2025-02-25T14:30:00Z"), visit.get("end", "2025-02-25T14:50:00Z")
        )
        chart.phq9(visit.get("assessed", "2025-02-25T14:35:00Z"), 10)
        return chart

    return build


# --- CMS159 ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "in_population", "age"),
    [
        pytest.param("2013", 0, "age 11 or 12", id="born-2013-11-or-12"),
        pytest.param("2013-02", 0, "age 11 or 12", id="born-february-2013-11-or-12"),
        pytest.param("2013-01", 1, "age 12", id="born-january-2013-12"),
        pytest.param("2012", 1, "age 12 or 13", id="born-2012-12-or-13"),
        pytest.param("2014", 0, "age 10 or 11", id="born-2014-under-12"),
    ],
)
def test_a_birth_year_or_month_gives_every_age_it_allows(
    indexed, measured, birth, in_population, age
):
    found = measured("cms159", indexed(birth=birth))
    assert found.populations[:2] == (in_population, in_population)
    said = found.evidence("age")
    assert said["text"].startswith(f"{age} on the index date, born {birth} (")
    if birth == "2013":
        assert "unknown whether at least 12, so not in the population" in said["text"]
    assert said["date"] == "2025-02-25"


@pytest.mark.parametrize(
    ("died", "excluded"),
    [
        pytest.param("2026", 0, id="2026-unknown-against-2026-04-26"),
        pytest.param("2026-04", 0, id="april-2026-unknown"),
        pytest.param("2026-03", 1, id="march-2026-before"),
        pytest.param("2026-05", 0, id="may-2026-after"),
        pytest.param("2025", 1, id="2025-before"),
    ],
)
def test_a_death_given_to_the_year_or_month_excludes_only_when_surely_by_the_end(
    indexed, measured, died, excluded
):
    chart = indexed()
    chart.resources[0]["deceasedDateTime"] = died
    chart.phq9("2026-02-19T09:00:00Z", 3)
    found = measured("cms159", chart)
    assert found.populations == (1, 1, excluded, 1 - excluded)
    if excluded:
        death = found.evidence("exclusion.death")
        assert death["date"] == died
        assert death["text"].startswith(f"died {died}, on or before")


@pytest.mark.parametrize(
    ("follow_up", "numerator"),
    [
        pytest.param("2026-04", 0, id="april-may-end-after-the-26th"),
        pytest.param("2026-03", 1, id="march-wholly-inside"),
        pytest.param("2025-12", 0, id="december-may-be-before-the-27th"),
        pytest.param("2026-05", 0, id="may-after"),
    ],
)
def test_a_follow_up_given_to_the_month_counts_only_when_its_whole_month_is_in_the_window(
    indexed, measured, follow_up, numerator
):
    chart = indexed()
    chart.phq9(follow_up, 3)
    found = measured("cms159", chart)
    assert found.populations == (1, 1, 0, numerator)
    if numerator:
        assert found.evidence("remission")["date"] == follow_up


def test_an_assessment_given_to_the_month_is_not_known_to_be_near_a_one_day_visit(
    indexed, measured
):
    found = measured("cms159", indexed(assessed="2025-02"))
    assert found.populations == (0, 0, 0, 0)
    assert found.evidence("index_assessment")["resource"] is None


def test_an_index_given_to_the_month_gives_an_assessment_period_of_months(indexed, measured):
    """A month-long visit holds a PHQ-9 dated February 2025: a year later is February 2026,
    and 60 days either side reach December 2025 (from 28 February) and April 2026 (from
    1 February)."""
    chart = indexed(start="2025-01-10T09:00:00Z", end="2025-03-05T17:00:00Z", assessed="2025-02")
    chart.phq9("2026-02-19T09:00:00Z", 3)
    found = measured("cms159", chart)
    assert found.populations == (1, 1, 0, 1)
    assert found.evidence("index_assessment")["date"] == "2025-02"
    window = found.evidence("assessment_period")
    assert window["text"].endswith("after the index: 2025-12..2026-04")
    assert window["date"] == "2026-02"
    chart.phq9("2026-04-10T09:00:00Z", 12)  # later, but maybe after the window's end
    assert measured("cms159", chart).populations == (1, 1, 0, 1)


# --- CMS2 --------------------------------------------------------------------------------


@pytest.fixture
def screened(make_chart):
    def build(birth, **visit):
        chart = make_chart(birth=birth)
        chart.encounter(
            visit.get("start", "2026-06-21T08:00:00Z"),
            visit.get("end", "2026-06-21T08:15:00Z"),
            code=chart.SCREENING_ENCOUNTER,
        )
        chart.screen(
            visit.get("taken", "2026-06-15T08:00:00Z"), chart.ADOLESCENT_SCREEN, chart.NEGATIVE
        )
        chart.screen(visit.get("taken", "2026-06-15T08:00:00Z"), chart.ADULT_SCREEN, chart.NEGATIVE)
        return chart

    return build


@pytest.mark.parametrize(
    ("birth", "expected", "age"),
    [
        pytest.param("2013", (1, 1, 0, 1, 0), "age 12 or 13", id="12-or-13-adolescent"),
        pytest.param("2014", (0, 0, 0, 0, 0), "age 11 or 12", id="11-or-12-unknown"),
        pytest.param("2009", (1, 1, 0, 0, 0), "age 16 or 17", id="16-or-17-which-screen"),
        pytest.param("2008-01", (1, 1, 0, 0, 0), "age 17 or 18", id="17-or-18-which-screen"),
        pytest.param("2007", (1, 1, 0, 1, 0), "age 18 or 19", id="18-or-19-adult"),
    ],
)
def test_cms2_ages_from_a_birth_year_or_month(screened, measured, birth, expected, age):
    found = measured("cms2", screened(birth))
    assert found.populations == expected
    said = found.evidence("age")["text"]
    assert said.startswith(f"{age} on 2026-01-01, the start of the measurement period, born")
    if expected[1] and not expected[3]:
        assert "which screen applies is unknown, so none meets the numerator" in said


@pytest.mark.parametrize(
    ("start", "end", "taken", "expected"),
    [
        pytest.param("2026", "2026", "2026-06-15", (0, 0, 0, 0, 0), id="visit-in-2026-unknown"),
        # March less 14 days is still March: a screen is in it (unknown) or surely not
        pytest.param("2026-03", "2026-03", "2026-02-20", (1, 1, 0, 0, 0), id="visit-in-march"),
        pytest.param("2026-03", "2026-03", "2026-03-10", (1, 1, 0, 0, 0), id="screen-in-march"),
        pytest.param("2026-03-16", "2026-03", "2026-03-02", (1, 1, 0, 1, 0), id="visit-from-day"),
        pytest.param(
            "2026-06-21T08:00:00Z",
            "2026-06-21T08:15:00Z",
            "2026-06",
            (1, 1, 0, 0, 0),
            id="screen-in-june-maybe-after-visit",
        ),
    ],
)
def test_cms2_visits_and_screens_given_to_the_year_or_month(
    screened, measured, start, end, taken, expected
):
    found = measured("cms2", screened("2000-01-01", start=start, end=end, taken=taken))
    assert found.populations == expected
    if expected[0]:
        assert found.evidence("qualifying_encounter")["date"] == start[:10]
