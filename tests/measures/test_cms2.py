"""CMS2 cases the stewards' suite lacks: the 14-day screening window, ages at the edges of
each screen, the most recent screen deciding, follow-up timing, and the exception.

The baseline adult was born 2008-01-01 (18 on 2026-01-01) and has a depression-screening visit
on 2026-06-21 from 08:00 to 08:15 UTC. Populations are (IP, DEN, DENEX, NUM, DENEXCEP).
"""

import pytest

VISIT = ("2026-06-21T08:00:00Z", "2026-06-21T08:15:00Z")


@pytest.fixture
def visited(make_chart):
    def build(birth="2008-01-01", start=VISIT[0], end=VISIT[1]):
        chart = make_chart(birth=birth)
        chart.encounter(start, end, code=chart.SCREENING_ENCOUNTER)
        return chart

    return build


@pytest.mark.parametrize(
    ("birth", "in_population"),
    [("2014-01-01", 1), ("2014-01-02", 0), ("1940-07-01", 1)],
)
def test_age_12_or_more_on_the_first_day_of_the_period(
    visited, evaluate, pops, birth, in_population
):
    assert pops(evaluate("cms2", visited(birth=birth)))[:2] == (in_population, in_population)


@pytest.mark.parametrize(
    ("start", "end", "in_population"),
    [
        ("2026-01-01T00:00:00Z", "2026-01-01T00:30:00Z", 1),
        ("2025-12-31T23:00:00Z", "2026-01-01T01:00:00Z", 0),  # starts before the period
        ("2026-12-31T23:00:00Z", "2027-01-01T01:00:00Z", 0),  # ends after it
    ],
)
def test_the_visit_lies_within_the_period(visited, evaluate, pops, start, end, in_population):
    assert pops(evaluate("cms2", visited(start=start, end=end)))[0] == in_population


@pytest.mark.parametrize(
    ("taken", "numerator"),
    [
        ("2026-06-07T09:00:00Z", 1),  # 14 days before the visit's day
        ("2026-06-06T23:00:00Z", 0),  # 15 days before
        ("2026-06-21T20:00:00Z", 1),  # later on the visit's day
        ("2026-06-22T07:00:00Z", 0),  # the day after
    ],
)
def test_the_screen_is_taken_from_14_days_before_the_visit_to_its_day(
    visited, evaluate, pops, taken, numerator
):
    chart = visited()
    chart.screen(taken, chart.ADULT_SCREEN, chart.NEGATIVE)
    assert pops(evaluate("cms2", chart)) == (1, 1, 0, numerator, 0)


@pytest.mark.parametrize(
    ("birth", "screen", "numerator"),
    [
        ("2009-01-02", "ADOLESCENT_SCREEN", 1),  # 16
        ("2009-01-02", "ADULT_SCREEN", 0),
        ("2009-01-01", "ADOLESCENT_SCREEN", 1),  # 17: either
        ("2009-01-01", "ADULT_SCREEN", 1),
        ("2008-01-01", "ADOLESCENT_SCREEN", 0),  # 18
        ("2008-01-01", "ADULT_SCREEN", 1),
    ],
)
def test_each_age_uses_its_screen(visited, evaluate, pops, birth, screen, numerator):
    chart = visited(birth=birth)
    chart.screen("2026-06-15T08:00:00Z", getattr(chart, screen), chart.NEGATIVE)
    assert pops(evaluate("cms2", chart)) == (1, 1, 0, numerator, 0)


@pytest.mark.parametrize(
    ("results", "numerator"),
    [(("POSITIVE", "NEGATIVE"), 1), (("NEGATIVE", "POSITIVE"), 0)],
)
def test_the_most_recent_screen_decides(visited, evaluate, pops, results, numerator):
    chart = visited()
    chart.screen("2026-06-10T08:00:00Z", chart.ADULT_SCREEN, getattr(chart, results[0]))
    chart.screen("2026-06-15T08:00:00Z", chart.ADULT_SCREEN, getattr(chart, results[1]))
    assert pops(evaluate("cms2", chart)) == (1, 1, 0, numerator, 0)


@pytest.fixture
def positive(visited):
    def build(**visit):
        chart = visited(**visit)
        chart.screen("2026-06-15T08:00:00Z", chart.ADULT_SCREEN, chart.POSITIVE)
        return chart

    return build


@pytest.mark.parametrize(
    ("authored", "numerator"),
    [
        ("2026-06-20T12:00:00Z", 0),  # the day before the visit
        ("2026-06-21T08:10:00Z", 1),
        ("2026-06-23T23:00:00Z", 1),  # 2 days after the visit's day
        ("2026-06-24T00:30:00Z", 0),  # 3 days after
    ],
)
def test_referral_ordered_up_to_2_days_after_the_visit(
    positive, evaluate, pops, authored, numerator
):
    chart = positive()
    chart.service_request(authored, chart.PSYCHIATRY_REFERRAL)
    assert pops(evaluate("cms2", chart)) == (1, 1, 0, numerator, 0)


@pytest.mark.parametrize(
    ("performed", "status", "numerator"),
    [
        ("2026-06-21T08:15:00Z", "completed", 1),  # at the visit's end
        ("2026-06-21T09:00:00Z", "completed", 0),  # after it ended, same day
        ("2026-06-21", "completed", 0),  # day only: unknown against the visit's times
        ("2026-06-21T08:05:00Z", "in-progress", 0),
    ],
)
def test_follow_up_procedure_performed_during_the_visit(
    positive, evaluate, pops, performed, status, numerator
):
    chart = positive()
    chart.procedure(performed, chart.FAMILY_PSYCHOTHERAPY, status=status)
    assert pops(evaluate("cms2", chart)) == (1, 1, 0, numerator, 0)


@pytest.mark.parametrize(
    ("authored", "days", "numerator"),
    [
        ("2026-06-21T08:10:00Z", 30, 1),
        ("2026-06-21T08:10:00Z", None, 0),  # no supply: its duration is unknown
        ("2026-06-21T08:10:00Z", 1, 0),  # lasts only the visit's day
        ("2026-06-24T08:00:00Z", 30, 0),  # ordered 3 days after
    ],
)
def test_antidepressant_order_lasting_past_the_visit(
    positive, evaluate, pops, authored, days, numerator
):
    chart = positive()
    chart.medication_request(
        authored, ("http://www.nlm.nih.gov/research/umls/rxnorm", "1000048"), days
    )
    assert pops(evaluate("cms2", chart)) == (1, 1, 0, numerator, 0)


def test_follow_up_after_the_period_does_not_count(visited, evaluate, pops):
    chart = visited(start="2026-12-31T08:00:00Z", end="2026-12-31T08:15:00Z")
    chart.screen("2026-12-30T08:00:00Z", chart.ADULT_SCREEN, chart.POSITIVE)
    chart.service_request("2027-01-01T08:00:00Z", chart.PSYCHIATRY_REFERRAL)
    assert pops(evaluate("cms2", chart)) == (1, 1, 0, 0, 0)


@pytest.mark.parametrize(
    ("issued", "reason", "screened", "exception"),
    [
        ("2026-06-21T08:05:00Z", "DECLINED", False, 1),
        ("2026-06-21T08:05:00Z", "CONTRAINDICATED", False, 1),  # a Medical Reason
        ("2026-06-22T08:05:00Z", "DECLINED", False, 0),  # not on the visit's day
        ("2026-06-21T08:05:00Z", "POSITIVE", False, 0),  # not a reason
        ("2026-06-21T08:05:00Z", "DECLINED", True, 0),  # screened after all
    ],
)
def test_exception_for_a_screen_not_done_with_a_reason(
    visited, evaluate, pops, issued, reason, screened, exception
):
    chart = visited()
    chart.not_done(issued, chart.ADULT_SCREEN, getattr(chart, reason))
    if screened:
        chart.screen("2026-06-15T08:00:00Z", chart.ADULT_SCREEN, chart.POSITIVE)
    assert pops(evaluate("cms2", chart)) == (1, 1, 0, 0, exception)


def test_a_patient_in_the_numerator_is_not_an_exception(visited, evaluate, pops):
    chart = visited(birth="2009-01-01")  # 17: the adolescent screen counts
    chart.screen("2026-06-15T08:00:00Z", chart.ADOLESCENT_SCREEN, chart.NEGATIVE)
    chart.not_done("2026-06-21T08:05:00Z", chart.ADULT_SCREEN, chart.DECLINED)
    assert pops(evaluate("cms2", chart)) == (1, 1, 0, 1, 0)


@pytest.mark.parametrize(
    ("onset", "fields", "excluded"),
    [
        ("2026-06-20T23:00:00Z", {}, 1),
        ("2026-06-21T07:00:00Z", {}, 0),  # the same day is not before the visit's day
        ("2020-01-01", {"clinical": "inactive", "abatementDateTime": "2021-01-01"}, 1),
        ("2020-01-01", {"category": "encounter-diagnosis"}, 0),  # problem list only
        (None, {}, 1),  # no onset: since always
    ],
)
def test_bipolar_history_before_the_visit_excludes(
    visited, evaluate, pops, onset, fields, excluded
):
    chart = visited()
    chart.condition(onset, code=chart.BIPOLAR, verification=None, **fields)
    chart.screen("2026-06-15T08:00:00Z", chart.ADULT_SCREEN, chart.NEGATIVE)
    assert pops(evaluate("cms2", chart)) == (1, 1, excluded, 1 - excluded, 0)
