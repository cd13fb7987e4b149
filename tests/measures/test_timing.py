from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trdnav.measures.timing import (
    Moment,
    Precision,
    Span,
    add_months,
    day_in,
    days_during,
    days_overlap,
    days_overlap_after,
    ends_on_days,
    moment_during,
    overlaps,
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
    assert Span(day("2025-01-01"), day("2025-01-03")).first_day == date(2025, 1, 1)
    ongoing = Span(day("2025-01-01"))
    assert ongoing.last_day == date.max
    assert Span(None, day("2025-01-03")).first_day == date.min
    unknown = Span(None, day("2025-01-03"), start_unknown=True)
    assert unknown.first_day is None
    assert str(Span.at(day("2025-01-01"))) == "2025-01-01"
    assert str(Span(day("2025-01-01"), day("2025-01-03"))) == "2025-01-01..2025-01-03"


def test_day_precision_compares_days_as_recorded_whatever_the_offsets():
    late = Span.at(at("2025-10-31T23:30:00-05:00"))  # 2025-11-01 in UTC
    first, last = date(2024, 11, 1), date(2025, 10, 31)
    assert ends_on_days(late, first, last)
    assert days_during(late, first, last)
    assert not ends_on_days(Span.at(day("2025-11-01")), first, last)
    assert days_overlap(Span(day("2024-10-01"), day("2024-11-01")), first, last)
    assert not days_overlap(Span(day("2024-10-01"), day("2024-10-31")), first, last)
    assert days_overlap(Span(day("2020-01-01")), first, last)  # open-ended
    assert not days_overlap(Span(day("2025-01-01"), end_unknown=True), first, last)
    assert not days_during(Span(day("2025-01-01")), first, last)
    assert day_in(first, first, last)
    assert not day_in(None, first, last)


def test_overlap_after_needs_a_later_last_day():
    visit = Span(day("2026-06-21"), day("2026-06-21"))
    assert days_overlap_after(Span(day("2026-06-21"), day("2026-07-20")), visit)
    assert not days_overlap_after(Span(day("2026-06-21"), day("2026-06-21")), visit)
    assert not days_overlap_after(Span(day("2026-06-22"), day("2026-07-20")), visit)
    assert not days_overlap_after(Span(day("2026-06-01"), end_unknown=True), visit)


def test_full_precision_overlap_compares_instants():
    visit = Span(at("2025-02-25T14:30:00+00:00"), at("2025-02-25T14:50:00+00:00"))
    assert overlaps(visit, Span(at("2025-02-25T14:35:00+00:00")))
    assert overlaps(visit, Span(at("2025-02-25T14:50:00+00:00")))
    assert not overlaps(visit, Span(at("2025-02-25T14:51:00+00:00")))
    assert overlaps(visit, Span(at("2025-02-25T16:49:00+02:00")))  # 14:49Z
    assert not overlaps(visit, Span(at("2025-02-25T14:51:00+00:00"), end_unknown=True))


def test_a_day_only_value_against_a_time_on_the_same_day_is_unknown():
    visit = Span(at("2025-02-25T14:30:00+00:00"), at("2025-02-25T14:50:00+00:00"))
    assert not overlaps(visit, Span(day("2025-02-25")))  # CQL: unknown, so not met
    assert overlaps(visit, Span(day("2025-02-24")))  # certain from the day alone
    assert not overlaps(visit, Span(day("2025-02-26")))
    assert overlaps(Span(day("2025-02-25"), day("2025-02-25")), Span(day("2025-02-25")))


def test_moment_during_a_span_includes_both_ends():
    visit = Span(at("2026-06-21T08:00:00+00:00"), at("2026-06-21T08:15:00+00:00"))
    assert moment_during(at("2026-06-21T08:00:00+00:00"), visit)
    assert moment_during(at("2026-06-21T08:15:00+00:00"), visit)
    assert not moment_during(at("2026-06-21T08:16:00+00:00"), visit)
    assert not moment_during(day("2026-06-21"), visit)  # unknown
    assert moment_during(at("2026-06-21T08:05:00+00:00"), Span(visit.start))
    assert not moment_during(at("2026-06-21T08:05:00+00:00"), Span(None, visit.end, True))


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
    assert overlaps(span, point) == (lo <= c <= hi)
    assert moment_during(Moment(c.date(), c), span) == (lo <= c <= hi)


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
