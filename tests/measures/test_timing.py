from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trdnav.core.dates import age_in_years
from trdnav.measures.timing import (
    CALENDAR_UNITS,
    Edge,
    Moment,
    Precision,
    Span,
    Uncertainty,
    add_months,
    age_in_years_at,
    and3,
    before,
    days_during,
    days_overlap,
    days_overlap_after,
    end_of,
    ends_on_days,
    in_days,
    moment_during,
    on_or_before,
    or3,
    order,
    overlaps,
    plus,
    predecessor,
    shift_days,
    start_of,
)


def at(text: str) -> Moment:
    when = datetime.fromisoformat(text)
    return Moment(when.date(), when)


def day(text: str) -> Moment:
    return Moment(date.fromisoformat(text))


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ("2026-01-01", -14, "2024-11-01"),
        ("2026-01-01", -2, "2025-11-01"),
        ("2025-02-25", 12, "2026-02-25"),
        ("2024-02-29", 12, "2025-02-28"),
        ("2024-02-29", 48, "2028-02-29"),
        ("2025-01-31", 1, "2025-02-28"),
        ("2024-03-31", -1, "2024-02-29"),
        ("2025-12-15", 1, "2026-01-15"),
    ],
)
def test_add_months_clamps_to_the_end_of_a_shorter_month(start, months, expected):
    assert add_months(date.fromisoformat(start), months) == date.fromisoformat(expected)


dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))


@given(dates, st.integers(min_value=-240, max_value=240))
def test_add_months_moves_by_whole_months_and_keeps_the_day_where_it_can(start, months):
    moved = add_months(start, months)
    assert (moved.year * 12 + moved.month) - (start.year * 12 + start.month) == months
    assert moved.day == start.day or (moved.day < start.day and (moved + timedelta(1)).day == 1)


def test_a_moment_needs_an_offset_and_sorts_by_its_instant():
    with pytest.raises(ValueError, match="offset"):
        Moment(date(2025, 1, 1), datetime(2025, 1, 1, 10, 0))
    east = at("2025-01-02T01:00:00+05:00")  # 2025-01-01T20:00Z
    west = at("2025-01-01T21:00:00+00:00")
    assert east.sort_key < west.sort_key
    assert east.day == date(2025, 1, 2)  # the day as recorded, not converted
    assert day("2025-01-02").sort_key == datetime(2025, 1, 2, tzinfo=UTC)


def test_spans_have_known_open_and_unknown_bounds():
    assert start_of(Span(day("2025-01-01"), day("2025-01-03"))) == day("2025-01-01")
    assert end_of(Span(day("2025-01-01"))) is Edge.LATEST
    assert start_of(Span(None, day("2025-01-03"))) is Edge.EARLIEST
    assert start_of(Span(None, day("2025-01-03"), start_unknown=True)) is Edge.UNKNOWN
    assert end_of(Span(day("2025-01-01"), end_unknown=True)) is Edge.UNKNOWN
    assert str(Span.at(day("2025-01-01"))) == "2025-01-01"
    assert str(Span(day("2025-01-01"), day("2025-01-03"))) == "2025-01-01..2025-01-03"
    assert str(Span(Moment.month(2025, 3), Moment.year(2026))) == "2025-03..2026"


def test_the_edges_of_time_come_before_and_after_every_moment_and_unknown_settles_nothing():
    some = day("2025-01-01")
    assert order(Edge.EARLIEST, some) == -1
    assert order(some, Edge.LATEST) == -1
    assert order(Edge.LATEST, Edge.LATEST) == 0
    assert order(Edge.EARLIEST, Edge.LATEST, by_day=False) == -1
    assert order(Edge.UNKNOWN, some) is None
    assert order(Edge.UNKNOWN, Edge.LATEST) is None


def test_day_precision_compares_days_as_recorded_whatever_the_offsets():
    late = Span.at(at("2025-10-31T23:30:00-05:00"))  # 2025-11-01 in UTC
    first, last = day("2024-11-01"), day("2025-10-31")
    assert ends_on_days(late, first, last) is True
    assert days_during(late, first, last) is True
    assert ends_on_days(Span.at(day("2025-11-01")), first, last) is False
    assert days_overlap(Span(day("2024-10-01"), day("2024-11-01")), first, last) is True
    assert days_overlap(Span(day("2024-10-01"), day("2024-10-31")), first, last) is False
    assert days_overlap(Span(day("2020-01-01")), first, last) is True  # open-ended
    assert days_overlap(Span(day("2025-01-01"), end_unknown=True), first, last) is None
    assert days_overlap(Span(day("2025-11-01"), end_unknown=True), first, last) is False
    assert days_during(Span(day("2025-01-01")), first, last) is False
    assert in_days(first, first, last) is True
    assert in_days(Edge.UNKNOWN, first, last) is None


def test_overlap_after_needs_a_later_last_day():
    visit = Span(day("2026-06-21"), day("2026-06-21"))
    assert days_overlap_after(Span(day("2026-06-21"), day("2026-07-20")), visit) is True
    assert days_overlap_after(Span(day("2026-06-21"), day("2026-06-21")), visit) is False
    assert days_overlap_after(Span(day("2026-06-22"), day("2026-07-20")), visit) is False
    assert days_overlap_after(Span(day("2026-06-01"), end_unknown=True), visit) is None
    june = Span(Moment.month(2026, 6), Moment.month(2026, 6))
    assert days_overlap_after(june, visit) is None  # the order may end on the visit's day


def test_full_precision_overlap_compares_instants():
    visit = Span(at("2025-02-25T14:30:00+00:00"), at("2025-02-25T14:50:00+00:00"))
    assert overlaps(visit, Span(at("2025-02-25T14:35:00+00:00"))) is True
    assert overlaps(visit, Span(at("2025-02-25T14:50:00+00:00"))) is True
    assert overlaps(visit, Span(at("2025-02-25T14:51:00+00:00"))) is False
    assert overlaps(visit, Span(at("2025-02-25T16:49:00+02:00"))) is True  # 14:49Z
    assert overlaps(visit, Span(at("2025-02-25T14:51:00+00:00"), end_unknown=True)) is False
    # an unknown end is null: whether the visit starts before it is unknown
    assert overlaps(visit, Span(at("2025-02-25T14:40:00+00:00"), end_unknown=True)) is None


def test_a_day_only_value_against_a_time_on_the_same_day_is_unknown():
    visit = Span(at("2025-02-25T14:30:00+00:00"), at("2025-02-25T14:50:00+00:00"))
    assert overlaps(visit, Span(day("2025-02-25"))) is None  # CQL: unknown, so not met
    assert overlaps(visit, Span(day("2025-02-24"))) is True  # certain from the day alone
    assert overlaps(visit, Span(day("2025-02-26"))) is False
    assert overlaps(Span(day("2025-02-25"), day("2025-02-25")), Span(day("2025-02-25"))) is True


def test_moment_during_a_span_includes_both_ends():
    visit = Span(at("2026-06-21T08:00:00+00:00"), at("2026-06-21T08:15:00+00:00"))
    assert moment_during(at("2026-06-21T08:00:00+00:00"), visit) is True
    assert moment_during(at("2026-06-21T08:15:00+00:00"), visit) is True
    assert moment_during(at("2026-06-21T08:16:00+00:00"), visit) is False
    assert moment_during(day("2026-06-21"), visit) is None
    assert moment_during(at("2026-06-21T08:05:00+00:00"), Span(visit.start)) is True
    assert moment_during(at("2026-06-21T08:05:00+00:00"), Span(None, visit.end, True)) is None


offsets = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1), timezones=offsets
)


@given(instants, instants, instants)
def test_full_precision_overlap_agrees_with_instant_arithmetic(a, b, c):
    lo, hi = sorted([a, b], key=lambda x: x.astimezone(UTC))
    span = Span(Moment(lo.date(), lo), Moment(hi.date(), hi))
    point = Span.at(Moment(c.date(), c))
    assert overlaps(span, point) is (lo <= c <= hi)
    assert moment_during(Moment(c.date(), c), span) is (lo <= c <= hi)


def test_a_partial_moment_starts_its_year_or_month_and_knows_its_last_day():
    assert Moment.year(2013) == Moment(date(2013, 1, 1), precision=Precision.YEAR)
    assert Moment.month(2024, 2).last_day == date(2024, 2, 29)
    assert str(Moment.month(2024, 2)) == "2024-02"
    assert Moment.year(2013).sort_key == datetime(2013, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="1 January"):
        Moment(date(2013, 5, 1), precision=Precision.YEAR)
    with pytest.raises(ValueError, match="first day"):
        Moment(date(2013, 5, 2), precision=Precision.MONTH)
    with pytest.raises(ValueError, match="instant"):
        Moment(date(2013, 5, 2), precision=Precision.TIME)
    assert at("2025-01-02T01:00:00+05:00").precision is Precision.TIME


# --- partial dates: three-valued comparisons ----------------------------------------------

years = st.integers(min_value=2010, max_value=2014)


@st.composite
def moments(draw, precisions=tuple(Precision)):
    """A moment of any precision (times in UTC) between 2010 and 2014."""
    precision = draw(st.sampled_from(precisions))
    year = draw(years)
    if precision is Precision.YEAR:
        return Moment.year(year)
    month = draw(st.integers(1, 12))
    if precision is Precision.MONTH:
        return Moment.month(year, month)
    when = draw(st.dates(min_value=date(year, month, 1), max_value=date(year, month, 28)))
    if precision is Precision.DAY:
        return Moment(when)
    instant = datetime.combine(when, time(draw(st.integers(0, 23))), UTC)
    return Moment(when, instant)


def days_of(moment: Moment) -> list[date]:
    """Every day a moment could stand for."""
    count = (moment.last_day - moment.day).days + 1
    return [moment.day + timedelta(days=k) for k in range(count)]


@given(moments(), moments())
def test_by_day_an_answer_holds_for_every_day_each_could_stand_for(a, b):
    """Sound: true (false) only when true (false) for every pair of days. And unknown exactly
    when CQL stops at a component one of them lacks: when the days of one lie within the
    other's year or month."""
    found = on_or_before(a, b)
    pairs = [(x, y) for x in (a.day, a.last_day) for y in (b.day, b.last_day)]
    if found is True:
        assert all(x <= y for x, y in pairs)
    if found is False:
        assert all(x > y for x, y in pairs)
    nested = a.day <= b.last_day and b.day <= a.last_day
    assert (found is None) == (nested and (a.is_partial or b.is_partial))
    assert before(a, b) == (None if found is None else (found and not nested))


@given(moments((Precision.YEAR, Precision.MONTH)), st.dates(date(2009, 6, 1), date(2015, 6, 1)))
def test_a_partial_date_against_a_day_is_true_or_false_for_all_its_days_or_unknown(partial, day_):
    """Against a full day: known exactly when the day lies outside the partial date's year or
    month, and then what every day of it gives."""
    found = on_or_before(partial, Moment(day_))
    answers = {x <= day_ for x in days_of(partial)}
    if partial.day <= day_ <= partial.last_day:
        assert found is None
    else:
        assert answers == {found}


def test_cql_leaves_a_partial_date_unknown_even_at_the_edge_of_its_span():
    """CQL compares year, month and day in turn and stops at the component one value lacks:
    2013 is not known to be on or before 2013-12-31, though every day of 2013 is (the CQL
    reference, SameOrBefore; the engines agree)."""
    assert on_or_before(Moment.year(2013), day("2013-12-31")) is None
    assert on_or_before(Moment.year(2013), day("2014-01-01")) is True
    assert before(day("2012-12-31"), Moment.year(2013)) is True
    assert on_or_before(Moment.month(2026, 4), day("2026-04-26")) is None
    assert on_or_before(Moment.month(2026, 3), day("2026-04-26")) is True
    assert on_or_before(Moment.month(2026, 5), day("2026-04-26")) is False


def test_full_precision_equal_values_of_one_precision_are_equal():
    assert order(Moment.year(2013), Moment.year(2013), by_day=False) == 0
    assert order(Moment.year(2013), Moment.year(2013)) is None  # by day: no day to compare
    assert order(Moment.year(2013), Moment.month(2013, 5), by_day=False) is None
    assert order(day("2025-02-25"), at("2025-02-25T10:00:00+00:00"), by_day=False) is None
    assert order(day("2025-02-25"), at("2025-02-25T10:00:00+00:00")) == 0


@given(moments(), moments(), moments())
def test_a_point_in_partial_bounds_is_known_only_when_every_choice_agrees(point, first, last):
    found = in_days(point, first, last)
    inside = [
        f <= x <= lst
        for x in (point.day, point.last_day)
        for f in (first.day, first.last_day)
        for lst in (last.day, last.last_day)
    ]
    if found is not None:
        assert set(inside) == {found}


@given(moments(), moments(), moments(), moments())
def test_spans_with_partial_bounds_overlap_only_when_every_choice_does(s, e, first, last):
    found = days_overlap(Span(s, e), first, last)
    overlapping = [
        x <= lst and f <= y
        for x in (s.day, s.last_day)
        for y in (e.day, e.last_day)
        for f in (first.day, first.last_day)
        for lst in (last.day, last.last_day)
    ]
    if found is not None:
        assert set(overlapping) == {found}


@given(moments((Precision.DAY,)), moments((Precision.DAY,)), moments((Precision.DAY,)))
def test_with_days_only_the_answers_are_plain(point, first, last):
    assert in_days(point, first, last) is (first.day <= point.day <= last.day)
    assert days_overlap(Span(point, last), first, last) is (
        point.day <= last.day and first.day <= last.day
    )


@pytest.mark.parametrize(
    ("values", "conjunction", "disjunction"),
    [
        ((True, True), True, True),
        ((True, None), None, True),
        ((False, None), False, None),
        ((None, None), None, None),
        ((False, False), False, False),
        ((True, False), False, True),
    ],
)
def test_three_valued_and_and_or(values, conjunction, disjunction):
    assert and3(*values) is conjunction
    assert or3(*values) is disjunction
    assert and3(*reversed(values)) is conjunction


# --- arithmetic --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "days", "expected"),
    [
        (Moment.month(2025, 3), -7, "2025-03"),  # from 31 March: still March
        (Moment.month(2025, 3), -40, "2025-02"),  # 31 March - 40 days = 19 February
        (Moment.month(2025, 3), 30, "2025-03"),  # 1 March + 30 days = 31 March
        (Moment.month(2025, 3), 31, "2025-04"),
        (Moment.year(2014), 364, "2014"),  # the CQL specification's example
        (Moment.year(2014), 365, "2015"),
        (Moment.year(2014), -1, "2014"),
        (Moment(date(2025, 3, 1)), -1, "2025-02-28"),
        (at("2025-03-01T23:30:00-05:00"), 1, "2025-03-02"),  # the date as recorded
        (Moment(date.min), -7, "0001-01-01"),  # held within the dates there are
    ],
)
def test_shifting_by_days_keeps_the_precision(moment, days, expected):
    assert str(shift_days(moment, days)) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (Moment.year(2022), "2021"),
        (Moment.month(2022, 1), "2021-12"),
        (Moment(date(2022, 3, 1)), "2022-02-28"),
    ],
)
def test_the_predecessor_is_one_unit_of_the_precision_earlier(moment, expected):
    assert str(predecessor(moment)) == expected


def test_the_predecessor_of_a_time_is_the_instant_before():
    found = predecessor(at("2025-03-10T00:00:00+00:00"))
    assert found.at == datetime(2025, 3, 9, 23, 59, 59, 999000, tzinfo=UTC)
    assert found.day == date(2025, 3, 9)


@pytest.mark.parametrize(
    ("moment", "value", "unit", "expected"),
    [
        (Moment(date(1980, 5, 10)), 40, "year", "2020-05-10"),
        (Moment(date(1980, 2, 29)), 1, "year", "1981-02-28"),  # CQL date arithmetic
        (Moment(date(1980, 5, 10)), 40.9, "year", "2020-05-10"),  # whole years only
        (Moment(date(1980, 5, 10)), 18, "month", "1981-11-10"),
        (Moment(date(1980, 5, 10)), 2, "week", "1980-05-24"),
        (Moment(date(1980, 5, 10)), 50, "hour", "1980-05-12"),  # whole days of hours
        (Moment.year(1980), 40, "year", "2020"),
        (Moment.month(1980, 5), 40, "year", "2020-05"),
        (Moment.year(1980), 18, "month", "1981"),
    ],
)
def test_adding_a_quantity_of_time_to_a_date(moment, value, unit, expected):
    assert str(plus(moment, value, unit)) == expected


def test_every_calendar_unit_is_one_plus_adds():
    born = Moment(date(2000, 1, 1))
    for unit in set(CALENDAR_UNITS.values()):
        assert plus(born, 1, unit).day >= born.day


# --- ages --------------------------------------------------------------------------------


@given(moments((Precision.YEAR, Precision.MONTH, Precision.DAY)), moments())
def test_an_age_is_every_age_the_dates_allow(birth, on):
    """AgeInYearsAt from a partial birth date (or day) gives the ages of every day each could
    stand for, and a comparison with it is known only when all of them agree."""
    ages = {age_in_years(b, o) for b in days_of(birth) for o in (on.day, on.last_day)}
    found = age_in_years_at(birth, on)
    assert (found.low, found.high) == (min(ages), max(ages))
    for n in (0, 1, 2, 3, 4):
        at_least = found.at_least(n)
        expected = {a >= n for a in ages}
        assert expected == ({at_least} if at_least is not None else {True, False})


def test_a_birth_year_of_2013_gives_11_or_12_in_february_2025():
    age = age_in_years_at(Moment.year(2013), day("2025-02-25"))
    assert (age.low, age.high, str(age)) == (11, 12, "11 or 12")
    assert age.at_least(12) is None
    assert age.at_least(11) is True
    assert age.at_least(13) is False


@pytest.mark.parametrize(
    ("low", "high", "within", "equals", "at_most"),
    [
        (12, 13, True, False, True),  # in [12, 16]; not 17; at most 16
        (16, 17, None, None, None),
        (17, 17, False, True, False),
        (17, 18, False, None, False),
        (11, 12, None, False, True),
    ],
)
def test_uncertain_ages_against_the_age_groups(low, high, within, equals, at_most):
    age = Uncertainty(low, high)
    assert age.within(12, 16) is within
    assert age.equals(17) is equals
    assert age.at_most(16) is at_most
