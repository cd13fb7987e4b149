from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trdnav.core.dates import age_in_years, completed_months, partial_date_start


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        (date(2023, 3, 15), date(2025, 3, 15), 24),
        (date(2023, 3, 15), date(2025, 3, 14), 23),
        (date(2023, 3, 15), date(2025, 3, 16), 24),
        (date(2024, 1, 1), date(2025, 1, 1), 12),
        (date(2024, 1, 1), date(2024, 12, 31), 11),
        (date(2024, 1, 31), date(2024, 2, 29), 0),
        (date(2024, 1, 31), date(2024, 3, 1), 1),
        (date(2024, 5, 5), date(2024, 5, 5), 0),
    ],
)
def test_completed_months(start, end, months):
    assert completed_months(start, end) == months


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (date(2007, 6, 10), date(2025, 6, 9), 17),
        (date(2007, 6, 10), date(2025, 6, 10), 18),
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(2008, 2, 29), date(2028, 2, 29), 20),
    ],
)
def test_age_is_completed_years(birth, on, age):
    assert age_in_years(birth, on) == age


dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))


@given(dates, st.integers(min_value=0, max_value=3000))
def test_months_never_decrease_as_time_passes(start, days):
    later = start + timedelta(days=days)
    assert completed_months(start, later) <= completed_months(start, later + timedelta(days=1))


@given(dates, st.integers(min_value=0, max_value=120))
def test_same_day_of_month_completes_whole_months(start, n):
    year, month = divmod(start.month - 1 + n, 12)
    if start.day > 28:
        return
    later = date(start.year + year, month + 1, start.day)
    assert completed_months(start, later) == n
    assert completed_months(start, later - timedelta(days=1)) == n - 1 if n else True


@given(dates, dates)
def test_months_are_antisymmetric(a, b):
    assert completed_months(a, b) == -completed_months(b, a)


@pytest.mark.parametrize(
    ("text", "start"),
    [("2019", date(2019, 1, 1)), ("2019-03", date(2019, 3, 1)), ("2025-01-21", date(2025, 1, 21))],
)
def test_partial_dates_start_at_the_first_day(text, start):
    assert partial_date_start(text) == start


@pytest.mark.parametrize("text", ["19", "2019-13", "2019-3", "2019-02-30x", "March 2019"])
def test_partial_dates_reject_other_forms(text):
    with pytest.raises(ValueError, match="YYYY"):
        partial_date_start(text)
