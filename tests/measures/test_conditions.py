"""A condition's prevalence as QI-Core's common CQL reads its onset and abatement: a
dateTime, a Period, or an Age or Range of ages counted from the birth date."""

from datetime import date

import pytest

from trdnav.measures.conditions import abatement_end, onset_start, onset_text, prevalence
from trdnav.measures.records import Age, AgeRange, Coding, Condition
from trdnav.measures.terminology import Terms
from trdnav.measures.timing import Moment, Span

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
ACTIVE = Terms((CLINICAL, c, "active") for c in ("active", "recurrence", "relapse"))
BORN = Moment(date(1980, 5, 10))


def condition(onset=None, abatement=None, status="active") -> Condition:
    return Condition(
        "c1", (), clinical_status=(Coding(CLINICAL, status),), onset=onset, abatement=abatement
    )


def years(n: float) -> Age:
    return Age(n, "year")


@pytest.mark.parametrize(
    ("onset", "birth", "start"),
    [
        (years(40), BORN, "2020-05-10"),  # the 40th birthday
        (years(40), Moment.year(1980), "2020"),  # from a birth year: a year
        (years(40), Moment.month(1980, 5), "2020-05"),
        (Age(18, "month"), BORN, "1981-11-10"),
        (AgeRange(years(40), years(45)), BORN, "2020-05-10"),
        (AgeRange(None, years(45)), BORN, None),  # no low age: since the beginning of time
        (years(40), None, None),  # no birth date: null
        (Moment(date(2020, 1, 1)), None, "2020-01-01"),
        (Span(Moment.month(2020, 3), Moment(date(2020, 6, 1))), BORN, "2020-03"),
        (Span(None, Moment(date(2020, 6, 1)), start_unknown=True), BORN, None),
        (None, BORN, None),
    ],
)
def test_the_start_of_the_onset(onset, birth, start):
    found = onset_start(condition(onset), birth)
    assert (str(found) if found else None) == start


@pytest.mark.parametrize(
    ("abatement", "birth", "end"),
    [
        (years(40), BORN, "2021-05-09"),  # the day before the 41st birthday
        (years(40), Moment.year(1980), "2020"),  # before 2021, to the year
        (years(40), Moment.month(1980, 5), "2021-04"),
        (AgeRange(years(30), years(40)), BORN, "2021-05-09"),
        (AgeRange(years(30), None), BORN, None),  # no high age: no end
        (years(40), None, None),
        (Moment(date(2021, 1, 1)), BORN, "2021-01-01"),
        # a Period as abatementInterval makes it: Interval[start, end), ending before its end
        (Span(Moment(date(2020, 1, 1)), Moment(date(2021, 3, 10))), BORN, "2021-03-09"),
        (Span(Moment(date(2020, 1, 1)), Moment.month(2021, 3)), BORN, "2021-02"),
        (Span(Moment(date(2020, 1, 1))), BORN, None),
        (None, BORN, None),
    ],
)
def test_the_end_of_the_abatement(abatement, birth, end):
    found = abatement_end(condition(abatement=abatement), birth)
    assert (str(found) if found else None) == end


def test_the_prevalence_runs_from_the_onset_age_to_the_abatement_age():
    span = prevalence(condition(years(40), years(45)), ACTIVE, BORN)
    assert str(span) == "2020-05-10..2026-05-09"
    ongoing = prevalence(condition(years(40)), ACTIVE, BORN)
    assert (str(ongoing.start), ongoing.end, ongoing.end_unknown) == ("2020-05-10", None, False)
    resolved = prevalence(condition(years(40), status="resolved"), ACTIVE, BORN)
    assert resolved.end_unknown


def test_the_evidence_names_the_age_of_onset():
    assert onset_text(condition(years(40)), BORN) == "2020-05-10, at age 40 years"
    assert onset_text(condition(AgeRange(years(1), years(2))), BORN) == (
        "1981-05-10, at age 1 year to 2 years"
    )
    assert onset_text(condition(Moment.year(2013)), BORN) == "2013"
    assert onset_text(condition(years(40)), None) is None
