"""Calendar arithmetic used by the rules.

* A duration in days is plain date subtraction.
* Completed calendar months: a month is complete when the same day of the month is
  reached (2023-03-15 to 2025-03-15 is 24 months); when the later month has no such
  day (an onset on the 31st), the month completes on the first day of the next month.
* Age is completed years: a person is 18 on their 18th birthday (a 29 February
  birthday is reached on 1 March in common years, by the same rule as months).
"""

from __future__ import annotations

import re
from datetime import date

__all__ = ["PARTIAL_DATE_PATTERN", "age_in_years", "completed_months", "partial_date_start"]

PARTIAL_DATE_PATTERN = r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$"
_PARTIAL = re.compile(PARTIAL_DATE_PATTERN)


def completed_months(start: date, end: date) -> int:
    """Completed calendar months from ``start`` to ``end`` (negative if end < start)."""
    if end < start:
        return -completed_months(end, start)
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day < start.day:
        months -= 1
    return months


def age_in_years(birth_date: date, on: date) -> int:
    """Completed years of age on a date."""
    return completed_months(birth_date, on) // 12


def partial_date_start(value: str) -> date:
    """First day of a ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` period."""
    if not _PARTIAL.match(value):
        raise ValueError(f"not a date of the form YYYY, YYYY-MM or YYYY-MM-DD: {value!r}")
    parts = [int(p) for p in value.split("-")]
    while len(parts) < 3:
        parts.append(1)
    return date(parts[0], parts[1], parts[2])
