"""Course planning at its boundaries: weekdays, holidays, year ends, missed sessions."""

import itertools
from datetime import date, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trdnav.core.scheduling import Taken, WorkCalendar, assign_measurements, plan, replan
from trdnav.errors import InputError
from trdnav.knowledge import load_knowledge

OPEN = WorkCalendar()


def dates(slots):
    return [s.date for s in slots]


def test_tms_10hz_is_six_weeks_of_weekdays_then_a_three_week_taper(kb):
    slots = plan(kb.courses["tms-10hz"], date(2027, 3, 1), time(9), OPEN)  # a Monday
    assert len(slots) == 36
    acute = [s for s in slots if s.phase == 0]
    assert len(acute) == 30
    assert acute[-1].date == date(2027, 4, 9)  # Friday of week 6
    assert all(s.date.weekday() < 5 for s in slots)
    taper = [s.date for s in slots if s.phase_name == "taper"]
    assert taper == [
        date(2027, 4, 12),
        date(2027, 4, 14),
        date(2027, 4, 16),
        date(2027, 4, 20),
        date(2027, 4, 22),
        date(2027, 4, 28),
    ]
    assert [s.number for s in slots] == list(range(1, 37))


def test_a_holiday_is_skipped_and_the_course_grows_longer(kb):
    easter_monday = date(2027, 3, 29)
    with_holiday = plan(
        kb.courses["tms-10hz"],
        date(2027, 3, 1),
        time(9),
        WorkCalendar(closed=frozenset({easter_monday})),
    )
    assert easter_monday not in dates(with_holiday)
    acute = [s for s in with_holiday if s.phase == 0]
    assert acute[-1].date == date(2027, 4, 12)  # one working day later
    assert len(with_holiday) == 36


def test_ect_across_the_year_end(kb):
    closed = frozenset({date(2026, 12, 25), date(2027, 1, 1)})
    slots = plan(kb.courses["ect-mwf"], date(2026, 12, 21), time(8), WorkCalendar(closed=closed))
    assert dates(slots)[:6] == [
        date(2026, 12, 21),
        date(2026, 12, 23),
        date(2026, 12, 28),
        date(2026, 12, 30),
        date(2027, 1, 4),
        date(2027, 1, 6),
    ]
    assert {d.weekday() for d in dates(slots)} <= {0, 2, 4}
    assert all(s.time == time(8) for s in slots)


def test_start_on_a_weekend_begins_on_the_next_allowed_day(kb):
    slots = plan(kb.courses["ect-mwf"], date(2027, 1, 2), time(9), OPEN)  # a Saturday
    assert slots[0].date == date(2027, 1, 4)


def test_esketamine_phases_and_every_other_week(kb):
    slots = plan(kb.courses["esketamine-trd"], date(2027, 1, 4), time(10), OPEN)
    assert len(slots) == 18
    induction = [s.date for s in slots if s.phase_name == "induction"]
    assert induction == [
        date(2027, 1, 5),
        date(2027, 1, 8),
        date(2027, 1, 12),
        date(2027, 1, 15),
        date(2027, 1, 19),
        date(2027, 1, 22),
        date(2027, 1, 26),
        date(2027, 1, 29),
    ]
    maintenance = [s.date for s in slots if s.phase_name == "maintenance"]
    gaps = {(b - a).days for a, b in itertools.pairwise(maintenance)}
    assert gaps == {14}
    assert all(s.minutes == 150 for s in slots)


def test_accelerated_itbs_is_ten_a_day_fifty_minutes_apart(kb):
    holiday = date(2027, 1, 6)
    slots = plan(
        kb.courses["tms-accelerated-itbs"],
        date(2027, 1, 4),
        time(8),
        WorkCalendar(closed=frozenset({holiday})),
    )
    days = sorted(set(dates(slots)))
    assert days == [
        date(2027, 1, 4),
        date(2027, 1, 5),
        date(2027, 1, 7),
        date(2027, 1, 8),
        date(2027, 1, 11),
    ]
    first_day = [s.time for s in slots if s.date == days[0]]
    assert first_day == [time(8 + k) for k in range(10)]


def test_a_day_that_would_run_past_midnight_is_refused(kb):
    with pytest.raises(InputError, match=r"session_time.*end before midnight"):
        plan(kb.courses["tms-accelerated-itbs"], date(2027, 1, 4), time(16), OPEN)


def test_a_calendar_without_the_phases_days_is_refused(kb):
    """A clinic open only at weekends, for a weekday course: the start is named, not a crash."""
    weekends = WorkCalendar(working_weekdays=frozenset({5, 6}))
    with pytest.raises(InputError, match=r"start.*open on the days of phase"):
        plan(kb.courses["ect-mwf"], date(2027, 1, 4), time(9), weekends)


def test_psychotherapy_keeps_the_start_weekday(kb):
    slots = plan(kb.courses["cbt-weekly"], date(2027, 1, 6), time(17), OPEN)  # a Wednesday
    assert len(slots) == 16
    assert {s.date.weekday() for s in slots} == {2}


def _missed(slots, number):
    return [
        Taken(s.number, s.date, s.phase, delivered=s.number != number)
        for s in slots
        if s.number <= number
    ]


def test_a_missed_session_in_week_one_shifts_the_rest(kb):
    template = kb.courses["tms-10hz"]
    slots = plan(template, date(2027, 3, 1), time(9), OPEN)
    taken = _missed(slots, 3)  # Wednesday of week 1 missed
    rest = replan(template, date(2027, 3, 1), time(9), OPEN, taken, date(2027, 3, 4))
    assert rest[0].number == 4
    assert rest[0].date == date(2027, 3, 4)
    assert len(taken) + len(rest) == 37  # one more slot: 35 still owed after 2 delivered
    assert sum(1 for t in taken if t.delivered) + len(rest) == 36
    acute = [s for s in rest if s.phase == 0]
    assert acute[-1].date == date(2027, 4, 12)  # acute ends one working day later


def test_a_missed_session_in_the_taper_stays_in_the_taper(kb):
    template = kb.courses["tms-10hz"]
    slots = plan(template, date(2027, 3, 1), time(9), OPEN)
    first_taper = next(s for s in slots if s.phase_name == "taper")
    taken = _missed(slots, first_taper.number)
    rest = replan(
        template, date(2027, 3, 1), time(9), OPEN, taken, first_taper.date + timedelta(days=1)
    )
    assert [(s.phase, s.date) for s in rest][:3] == [
        (1, date(2027, 4, 14)),
        (1, date(2027, 4, 16)),
        (1, date(2027, 4, 19)),
    ]
    assert sum(1 for s in rest if s.phase == 1) == 3
    delivered = [t for t in taken if t.delivered]
    assert [t.date for t in delivered] == [s.date for s in slots[: first_taper.number - 1]]


def test_weekly_caps_count_sessions_already_delivered(kb):
    template = kb.courses["ect-mwf"]
    slots = plan(template, date(2027, 1, 4), time(9), OPEN)
    taken = [Taken(1, date(2027, 1, 4), 0, True), Taken(2, date(2027, 1, 6), 0, False)]
    rest = replan(template, date(2027, 1, 4), time(9), OPEN, taken, date(2027, 1, 7))
    assert rest[0].date == date(2027, 1, 8)  # Friday still has room in that week
    assert len(rest) == 11
    assert slots[1].date == date(2027, 1, 6)


def test_measurement_points(kb):
    template = kb.courses["ect-mwf"]
    slots = plan(template, date(2027, 1, 4), time(9), OPEN)
    due = assign_measurements(template, [(s.number, s.date) for s in slots])
    assert [(n, [d.timing for d in due[n]]) for n in sorted(due)] == [
        (1, ["before"]),
        (3, ["after"]),
        (6, ["after"]),
        (9, ["after"]),
        (12, ["after"]),
    ]
    # a missed session does not count towards "after every third"
    counting = [(s.number, s.date) for s in slots if s.number != 2]
    due = assign_measurements(template, counting)
    assert 4 in due
    assert 3 not in due


def test_review_point_and_weekly_points(kb):
    template = kb.courses["tms-10hz"]
    slots = plan(template, date(2027, 3, 3), time(9), OPEN)  # a Wednesday
    due = assign_measurements(template, [(s.number, s.date) for s in slots])
    weekly = sorted(n for n, ds in due.items() if any(d.why == "weekly" for d in ds))
    assert [d.why for d in due[1]] == ["baseline"]  # the baseline covers week 1
    assert weekly[:3] == [4, 9, 14]  # first session of each later calendar week
    assert any(d.why == "review point" for d in due[20])
    assert any(d.why == "end of course" for d in due[36])


@settings(max_examples=60, deadline=None)
@given(
    template_id=st.sampled_from(
        ["tms-10hz", "ect-mwf", "esketamine-trd", "ketamine-iv", "vns-implant", "cbt-weekly"]
    ),
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)),
    closed=st.sets(st.integers(0, 120), max_size=25),
)
def test_plans_respect_the_calendar_and_the_template(template_id, start, closed):
    template = load_knowledge().courses[template_id]
    closed_days = frozenset(start + timedelta(days=n) for n in closed)
    slots = plan(template, start, time(9), WorkCalendar(closed=closed_days))
    assert len(slots) == template.planned_sessions
    assert [s.number for s in slots] == list(range(1, len(slots) + 1))
    assert all(
        s.date >= start and s.date not in closed_days and s.date.weekday() < 5 for s in slots
    )
    assert dates(slots) == sorted(dates(slots))
    for index, phase in enumerate(template.phases):
        mine = [s.date for s in slots if s.phase == index]
        assert len(mine) == phase.sessions
        weeks = {}
        for d in mine:
            key = d - timedelta(days=d.weekday())
            weeks[key] = weeks.get(key, 0) + 1
        assert max(weeks.values()) <= phase.per_week
