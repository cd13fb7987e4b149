"""Course calendars: months of weeks from Monday, sessions on their days, holidays marked."""

from datetime import date

from trdnav.web.calendar_grid import months


def test_months_cover_the_course_with_sessions_and_holidays():
    sessions = [
        {"number": 1, "date": "2026-12-28", "status": "delivered"},
        {"number": 2, "date": "2026-12-30", "status": "missed"},
        {"number": 3, "date": "2027-01-04", "status": "planned"},
    ]
    shown = months(sessions, {"2027-01-01": "New Year's Day"}, today=date(2026, 12, 30))
    assert [m.title for m in shown] == ["December 2026", "January 2027"]
    december, january = shown
    assert all(len(week) == 7 for week in december.weeks)
    assert december.weeks[0][0].day.weekday() == 0  # weeks start on Monday
    days = {d.day: d for week in december.weeks for d in week if d.in_month}
    assert [s["number"] for s in days[date(2026, 12, 28)].sessions] == [1]
    assert days[date(2026, 12, 30)].today
    jan = {d.day: d for week in january.weeks for d in week if d.in_month}
    assert jan[date(2027, 1, 1)].holiday == "New Year's Day"
    # a day shown in another month's grid carries nothing
    spill = [d for week in january.weeks for d in week if not d.in_month]
    assert all(not d.sessions and d.holiday is None for d in spill)


def test_no_sessions_no_months():
    assert months([]) == []
