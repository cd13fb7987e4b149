"""A course's sessions laid out as month calendars (weeks from Monday), for the course page.

Pure: the course view's sessions and holidays in, months of weeks of days out.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

__all__ = ["Day", "Month", "months"]


@dataclass(frozen=True)
class Day:
    day: date
    in_month: bool
    sessions: list[dict[str, Any]] = field(default_factory=list)
    holiday: str | None = None
    today: bool = False


@dataclass(frozen=True)
class Month:
    title: str
    weeks: list[list[Day]]


def months(
    sessions: Iterable[Mapping[str, Any]],
    holidays: Mapping[str, str] | None = None,
    today: date | None = None,
) -> list[Month]:
    """Every month from the first session's to the last's."""
    by_day: dict[date, list[dict[str, Any]]] = {}
    for s in sessions:
        by_day.setdefault(date.fromisoformat(s["date"]), []).append(dict(s))
    if not by_day:
        return []
    closed = {date.fromisoformat(d): name for d, name in (holidays or {}).items()}
    first, last = min(by_day), max(by_day)
    out = []
    year, month = first.year, first.month
    grid = calendar.Calendar(firstweekday=0)
    while (year, month) <= (last.year, last.month):
        weeks = [
            [
                Day(
                    day=d,
                    in_month=d.month == month,
                    sessions=by_day.get(d, []) if d.month == month else [],
                    holiday=closed.get(d) if d.month == month else None,
                    today=d == today,
                )
                for d in week
            ]
            for week in grid.monthdatescalendar(year, month)
        ]
        out.append(Month(f"{calendar.month_name[month]} {year}", weeks))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
