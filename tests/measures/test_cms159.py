"""CMS159 cases the stewards' suite lacks: thresholds, window edges, the deciding follow-up,
PHQ-9M, age 12, statuses, and exclusions just outside their window.

The baseline patient was born 2010-06-01 and has major depression since 2023-01-10 and an
office visit on 2025-02-25 (14:30-14:50 UTC) with a PHQ-9. For the 2026 measurement period
the identification period is 2024-11-01..2025-10-31 and, with the index on 2025-02-25, the
assessment period is 2025-12-27..2026-04-26. Populations are (IP, DEN, DENEX, NUM).
"""

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trdnav.errors import InputError
from trdnav.measures.timing import add_months

INDEX_DAY = "2025-02-25"


def visit(day: str, hh: str = "14:35") -> str:
    return f"{day}T{hh}:00Z"


@pytest.fixture
def indexed(make_chart):
    """A chart with a depression diagnosis and an office visit with a PHQ-9 on ``day``."""

    def build(score=10, *, day=INDEX_DAY, birth="2010-06-01", code=None, status="final"):
        chart = make_chart(birth=birth)
        chart.condition("2023-01-10")
        chart.encounter(visit(day, "14:30"), visit(day, "14:50"))
        chart.phq9(visit(day), score, code=code or chart.PHQ9, status=status)
        return chart

    return build


@pytest.mark.parametrize(("score", "expected"), [(9, (0, 0, 0, 0)), (10, (1, 1, 0, 0))])
def test_index_score_must_be_above_9(indexed, evaluate, pops, score, expected):
    assert pops(evaluate("cms159", indexed(score))) == expected


@pytest.mark.parametrize(
    ("follow_up", "numerator"),
    [("2025-12-26", 0), ("2025-12-27", 1), ("2026-02-25", 1), ("2026-04-26", 1), ("2026-04-27", 0)],
)
def test_assessment_period_is_12_months_plus_or_minus_60_days_inclusive(
    indexed, evaluate, pops, follow_up, numerator
):
    chart = indexed()
    chart.phq9(visit(follow_up, "09:00"), 3)
    result = evaluate("cms159", chart)
    assert pops(result) == (1, 1, 0, numerator)
    window = next(e for e in result.evidence if e.criterion == "assessment_period")
    assert "2025-12-27..2026-04-26" in window.text


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    index=st.dates(min_value=date(2024, 11, 1), max_value=date(2025, 10, 31)),
    offset=st.integers(min_value=-75, max_value=75),
)
def test_any_index_day_gives_a_window_of_60_days_around_a_year_later(
    indexed, evaluate, pops, index, offset
):
    chart = indexed(day=index.isoformat(), birth="2000-01-01")
    follow_up = add_months(index, 12) + timedelta(days=offset)
    chart.phq9(visit(follow_up.isoformat(), "09:00"), 4)
    assert pops(evaluate("cms159", chart)) == (1, 1, 0, int(-60 <= offset <= 60))


@pytest.mark.parametrize(
    ("follow_ups", "numerator"),
    [
        pytest.param([("2026-01-10", 3), ("2026-03-01", 7)], 0, id="later-7-undoes-earlier-3"),
        pytest.param([("2026-01-10", 7), ("2026-03-01", 3)], 1, id="later-3-decides"),
        pytest.param(
            [("2026-03-01T08:00:00Z", 3), ("2026-03-01T16:00:00Z", 7)], 0, id="same-day-later-time"
        ),
        pytest.param([("2026-03-01", 3), ("2026-05-01", 12)], 1, id="later-one-after-the-window"),
        pytest.param([("2026-03-01", 3), ("2026-03-02", None)], 0, id="last-without-a-value"),
        pytest.param([("2026-03-01", 4), ("2026-03-02", 5)], 0, id="last-exactly-5"),
    ],
)
def test_the_last_assessment_in_the_window_decides(indexed, evaluate, pops, follow_ups, numerator):
    chart = indexed()
    for when, score in follow_ups:
        chart.phq9(when if "T" in when else visit(when, "09:00"), score)
    assert pops(evaluate("cms159", chart)) == (1, 1, 0, numerator)


@pytest.mark.parametrize(
    ("status", "numerator"),
    [("preliminary", 1), ("entered-in-error", 1), ("amended", 0), ("corrected", 0)],
)
def test_a_later_assessment_counts_only_when_final_amended_or_corrected(
    indexed, evaluate, pops, status, numerator
):
    chart = indexed()
    chart.phq9(visit("2026-01-10"), 3)
    chart.phq9(visit("2026-03-01"), 8, status=status)
    assert pops(evaluate("cms159", chart)) == (1, 1, 0, numerator)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("final", (1, 1, 0, 1)),
        ("amended", (1, 1, 0, 1)),
        ("corrected", (1, 1, 0, 1)),
        ("preliminary", (0, 0, 0, 0)),
        ("registered", (0, 0, 0, 0)),
        ("cancelled", (0, 0, 0, 0)),
    ],
)
def test_index_assessment_status(indexed, evaluate, pops, status, expected):
    chart = indexed(status=status)
    chart.phq9(visit("2026-02-19"), 3)
    assert pops(evaluate("cms159", chart)) == expected


def test_phq9m_counts_as_index_and_as_follow_up(indexed, evaluate, pops, make_chart):
    teen = indexed(12, code=make_chart.PHQ9M)
    teen.phq9(visit("2026-02-19"), 3)
    assert pops(evaluate("cms159", teen)) == (1, 1, 0, 1)
    adult = indexed(12)
    adult.phq9(visit("2026-02-19"), 2, code=make_chart.PHQ9M)
    assert pops(evaluate("cms159", adult)) == (1, 1, 0, 1)


@pytest.mark.parametrize(
    ("birth", "year", "index", "in_population"),
    [
        ("2013-02-25", 2026, INDEX_DAY, 1),  # 12th birthday on the index day
        ("2013-02-26", 2026, INDEX_DAY, 0),  # 12 the day after
        ("2012-02-29", 2025, "2024-02-29", 1),  # leap-day birthday reached
        ("2012-02-29", 2025, "2024-02-28", 0),
        ("1930-01-01", 2026, INDEX_DAY, 1),  # no upper age limit
    ],
)
def test_age_is_12_or_more_on_the_index_day(
    indexed, evaluate, pops, birth, year, index, in_population
):
    chart = indexed(birth=birth, day=index)
    result = evaluate("cms159", chart, year=year)
    assert pops(result)[:2] == (in_population, in_population)
    age = next(e for e in result.evidence if e.criterion == "age")
    assert age.day == date.fromisoformat(index)


@pytest.mark.parametrize(
    ("assessment", "in_population"),
    [
        ("2025-02-18T09:00:00Z", 1),  # 7 days before the visit
        ("2025-02-17T23:59:00Z", 0),  # 8 days before
        ("2025-02-25T23:00:00Z", 1),  # after the visit, on its last day
        ("2025-02-26T00:30:00Z", 0),  # the day after
    ],
)
def test_index_assessment_from_7_days_before_the_visit_to_its_end(
    make_chart, evaluate, pops, assessment, in_population
):
    chart = make_chart()
    chart.condition("2025-01-10")
    chart.encounter(visit(INDEX_DAY, "14:30"), visit(INDEX_DAY, "14:50"))
    chart.phq9(assessment, 15)
    assert pops(evaluate("cms159", chart))[0] == in_population


@pytest.mark.parametrize(
    ("day", "in_population"),
    [("2024-10-31", 0), ("2024-11-01", 1), ("2025-10-31", 1), ("2025-11-01", 0)],
)
def test_the_visit_must_end_in_the_identification_period(
    make_chart, evaluate, pops, day, in_population
):
    chart = make_chart()
    chart.condition("2024-01-10")
    chart.encounter(visit(day, "14:30"), visit(day, "14:50"))
    chart.phq9(visit(day), 15)
    assert pops(evaluate("cms159", chart))[0] == in_population


def test_a_visit_that_ends_in_the_period_may_start_before_it(make_chart, evaluate, pops):
    chart = make_chart()
    chart.condition("2024-01-10")
    chart.encounter("2024-10-20T10:00:00Z", "2024-11-01T10:00:00Z")
    chart.phq9(visit("2024-10-15"), 15)  # 5 days before the visit starts
    assert pops(evaluate("cms159", chart))[0] == 1


def test_the_index_is_the_earliest_high_score_and_stays_fixed(indexed, evaluate, pops):
    chart = indexed(12)
    chart.encounter(visit("2025-06-01", "09:00"), visit("2025-06-01", "10:00"))
    chart.phq9(visit("2025-06-01", "09:30"), 20)
    chart.phq9(visit("2026-06-01"), 2)  # in remission a year after the second visit only
    result = evaluate("cms159", chart)
    assert pops(result) == (1, 1, 0, 0)
    index = next(e for e in result.evidence if e.criterion == "index_assessment")
    assert index.day == date(2025, 2, 25)


@pytest.mark.parametrize(
    ("condition", "in_population"),
    [
        pytest.param({}, 1, id="confirmed-active"),
        pytest.param({"verification": "provisional"}, 0, id="provisional"),
        pytest.param({"verification": None}, 0, id="unverified"),
        pytest.param({"clinical": "recurrence"}, 1, id="recurrence"),
        pytest.param({"clinical": "remission"}, 0, id="in-remission"),
        pytest.param({"category": "encounter-diagnosis"}, 1, id="encounter-diagnosis"),
        pytest.param({"onset": "2025-02-25T15:00:00Z"}, 0, id="onset-after-the-visit"),
        pytest.param({"onset": "2025-02-25T14:40:00Z"}, 1, id="onset-during-the-visit"),
        pytest.param({"onset": "2025-02-24"}, 1, id="onset-day-before"),
        pytest.param({"onset": "2025-02-25"}, 0, id="onset-day-only-same-day-is-unknown"),
        pytest.param({"onset": None}, 1, id="no-onset-prevalent-since-always"),
        pytest.param({"abatementDateTime": "2025-02-01"}, 0, id="abated-before-the-visit"),
        pytest.param({"code": ("http://snomed.info/sct", "19694002")}, 1, id="dysthymia"),
    ],
)
def test_the_visit_must_overlap_a_confirmed_active_depression(
    make_chart, evaluate, pops, condition, in_population
):
    chart = make_chart()
    chart.condition(**{"onset": "2025-01-10", **condition})
    chart.encounter(visit(INDEX_DAY, "14:30"), visit(INDEX_DAY, "14:50"))
    chart.phq9(visit(INDEX_DAY), 15)
    assert pops(evaluate("cms159", chart))[0] == in_population


@pytest.mark.parametrize("status", ["in-progress", "cancelled", "planned"])
def test_the_visit_must_be_finished(make_chart, evaluate, pops, status):
    chart = make_chart()
    chart.condition("2025-01-10")
    chart.encounter(visit(INDEX_DAY, "14:30"), visit(INDEX_DAY, "14:50"), status=status)
    chart.phq9(visit(INDEX_DAY), 15)
    assert pops(evaluate("cms159", chart)) == (0, 0, 0, 0)


@pytest.fixture
def remitted(indexed):
    """The baseline in remission (PHQ-9 of 3 on 2026-02-19) but for any exclusion."""

    def build():
        chart = indexed()
        chart.phq9(visit("2026-02-19"), 3)
        return chart

    return build


@pytest.mark.parametrize(
    ("start", "end", "excluded"),
    [
        ("2026-04-27T08:00:00Z", "2026-05-10T08:00:00Z", 0),  # starts after the window
        ("2026-04-26T08:00:00Z", "2026-05-10T08:00:00Z", 1),  # starts on its last day
        ("2024-10-01T08:00:00Z", "2024-10-31T20:00:00Z", 0),  # ends before it
        ("2024-10-01T08:00:00Z", "2024-11-01T08:00:00Z", 1),  # ends on its first day
    ],
)
def test_hospice_encounter_must_overlap_the_window(remitted, evaluate, pops, start, end, excluded):
    chart = remitted()
    chart.encounter(start, end, code=chart.HOSPICE_ENCOUNTER)
    assert pops(evaluate("cms159", chart)) == (1, 1, excluded, 1 - excluded)


@pytest.mark.parametrize(("onset", "excluded"), [("2026-04-27", 0), ("2026-04-26", 1)])
def test_mental_health_disorder_starting_after_the_window_does_not_exclude(
    remitted, evaluate, pops, onset, excluded
):
    chart = remitted()
    chart.condition(onset, code=chart.BIPOLAR)
    result = evaluate("cms159", chart)
    assert pops(result) == (1, 1, excluded, 1 - excluded)
    if excluded:
        assert "exclusion.mental_health_disorder" in [e.criterion for e in result.evidence]


@pytest.mark.parametrize(("died", "excluded"), [("2026-04-27", 0), ("2026-04-26T23:00:00Z", 1)])
def test_death_after_the_window_does_not_exclude(remitted, evaluate, pops, died, excluded):
    chart = remitted()
    chart.resources[0]["deceasedDateTime"] = died
    assert pops(evaluate("cms159", chart)) == (1, 1, excluded, 1 - excluded)


@pytest.mark.parametrize(
    ("authored", "extra", "excluded"),
    [
        ("2026-04-27", {}, 0),
        ("2026-04-26", {}, 1),
        ("2026-04-26", {"doNotPerform": True}, 0),
        ("2026-04-26", {"intent": "plan"}, 0),
        ("2026-04-26", {"status": "revoked"}, 0),
    ],
)
def test_hospice_order_on_a_day_of_the_window(remitted, evaluate, pops, authored, extra, excluded):
    chart = remitted()
    chart.service_request(authored, ("http://snomed.info/sct", "385763009"), **extra)
    assert pops(evaluate("cms159", chart)) == (1, 1, excluded, 1 - excluded)


def test_an_unconfirmed_mental_health_disorder_does_not_exclude(remitted, evaluate, pops):
    chart = remitted()
    chart.condition("2025-03-01", code=chart.BIPOLAR, verification="refuted")
    assert pops(evaluate("cms159", chart)) == (1, 1, 0, 1)


def test_evidence_names_the_resources_behind_each_step(remitted, evaluate):
    result = evaluate("cms159", remitted())
    assert [(e.criterion, e.resource) for e in result.evidence] == [
        ("depression_diagnosis", "Condition/con1"),
        ("depression_encounter", "Encounter/enc2"),
        ("index_assessment", "Observation/obs3"),
        ("age", "Patient/p1"),
        ("assessment_period", None),
        ("remission", "Observation/obs4"),
        ("exclusion", None),
    ]


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_score_or_age_that_is_not_a_finite_number_is_refused(indexed, evaluate, value):
    """Python's JSON reader makes 1e999 infinite and accepts NaN: the measure crashed on
    them (internal error) instead of naming the element."""
    chart = indexed()
    chart.resources[-1]["valueInteger"] = value
    with pytest.raises(InputError) as exc:
        evaluate("cms159", chart)
    assert [(p.path.rsplit(".", 1)[-1], p.expected) for p in exc.value.problems] == [
        ("valueInteger", "a finite number")
    ]
    aged = indexed()
    condition = next(r for r in aged.resources if r["resourceType"] == "Condition")
    condition.pop("onsetDateTime", None)
    condition["onsetAge"] = {"value": value, "code": "a"}
    with pytest.raises(InputError, match="a finite number"):
        evaluate("cms159", aged)


def test_an_abatement_at_the_first_instant_of_the_calendar_is_read(indexed, evaluate, pops):
    chart = indexed()
    condition = next(r for r in chart.resources if r["resourceType"] == "Condition")
    condition["abatementPeriod"] = {"end": "0001-01-01T00:00:00Z"}
    assert pops(evaluate("cms159", chart))  # an internal error before (date out of range)


@pytest.mark.parametrize("refills", [-5, 1.5, float("inf")])
def test_a_refill_count_that_is_not_an_unsigned_integer_is_refused(indexed, evaluate, refills):
    """A negative count was taken as given and took days away from the supply (it turned a
    numerator met into one not met); an infinite one crashed."""
    chart = indexed()
    order = chart.medication_request("2026-01-05")
    order["dispenseRequest"]["numberOfRepeatsAllowed"] = refills
    with pytest.raises(InputError) as exc:
        evaluate("cms159", chart)
    assert [p.path.rsplit(".", 1)[-1] for p in exc.value.problems] == ["numberOfRepeatsAllowed"]


def test_a_resource_given_twice_is_refused_as_a_patient_is(indexed, evaluate):
    """A second Observation with the id of the first, dated later with another score, was
    counted as well and turned a numerator met into one not met."""
    chart = indexed()
    first = chart.resources[-1]
    chart.resources.append(
        {**first, "effectiveDateTime": "2026-01-10T10:00:00Z", "valueInteger": 7}
    )
    with pytest.raises(InputError) as exc:
        evaluate("cms159", chart)
    [problem] = exc.value.problems
    assert (problem.value, problem.expected) == (first["id"], "an Observation id given only once")
