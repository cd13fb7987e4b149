"""Course planning: dated sessions from a template, a start date and a working calendar.

Rule ``course.schedule``: each phase places its sessions, in order, on the template's
weekdays that are clinic working days and not closed (public holidays, closure days), at
most ``per_week`` in a calendar week (Monday to Sunday) and only in every ``every_weeks``-th
week counted from the phase's first week. A closed day is skipped, not made up in the same
week, so the course grows longer. The next phase starts the day after the previous one ends.

Rule ``course.missed_session``: a missed or cancelled session keeps its place in the record;
the sessions still owed are planned again from the day after it, as the template would place
them, and delivered sessions never move.

Dates and wall-clock times are local to the clinic; converting them to instants (time
zones, daylight saving) is the adapters' work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from trdnav.core.course_templates import WEEKDAYS, CourseTemplate
from trdnav.errors import InputError, Problem

__all__ = [
    "LATEST_START",
    "Due",
    "Slot",
    "WorkCalendar",
    "assign_measurements",
    "plan",
    "replan",
]

MAX_DAYS = 3 * 366

LATEST_START = date.max - timedelta(days=MAX_DAYS + 1)
"""The latest day a course can start: its sessions are looked for up to three years after
the start, and a date past 9999-12-31 does not exist."""


@dataclass(frozen=True)
class WorkCalendar:
    """The clinic's working weekdays (0 = Monday) and the dates it is closed."""

    working_weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    closed: frozenset[date] = field(default_factory=frozenset)

    def is_open(self, day: date) -> bool:
        return day.weekday() in self.working_weekdays and day not in self.closed


class Due(BaseModel):
    """A measurement planned at a session: before it starts or after it ends."""

    model_config = ConfigDict(frozen=True)

    instrument: str
    timing: Literal["before", "after"]
    why: str


class Slot(BaseModel):
    """A planned session."""

    model_config = ConfigDict(frozen=True)

    number: int
    date: date
    time: time
    minutes: int
    phase: int
    phase_name: str


@dataclass(frozen=True)
class Taken:
    """A session already recorded: where it was, in which phase, and whether delivered."""

    number: int
    date: date
    phase: int
    delivered: bool


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weekdays(names: Sequence[str], start: date, calendar: WorkCalendar) -> set[int]:
    """Weekday numbers; ``start`` is the weekday of the first open day from the start on."""
    first = start
    while not calendar.is_open(first) and first < start + timedelta(days=MAX_DAYS):
        first += timedelta(days=1)
    return {first.weekday() if n == "start" else WEEKDAYS.index(n) for n in names}


def _place(
    template: CourseTemplate,
    needs: list[int],
    cursor: date,
    at: time,
    calendar: WorkCalendar,
    course_start: date,
    first_number: int,
    taken: Sequence[Taken],
) -> list[Slot]:
    counts: Counter[tuple[int, date]] = Counter(
        (t.phase, _monday(t.date)) for t in taken if t.delivered
    )
    anchors: dict[int, date] = {}
    for t in sorted(taken, key=lambda t: t.date):
        anchors.setdefault(t.phase, _monday(t.date))
    slots: list[Slot] = []
    number = first_number
    day = cursor
    for index, phase in enumerate(template.phases):
        remaining = needs[index]
        allowed = _weekdays(phase.weekdays, course_start, calendar)
        minutes = phase.session_minutes or template.session_minutes
        # (a course planned again near the end of the calendar looks no further than its end)
        limit = min(day, LATEST_START) + timedelta(days=MAX_DAYS)
        while remaining > 0:
            if day > limit:
                # the clinic's working days, closures and holidays leave no day of the phase
                raise InputError(
                    [
                        Problem(
                            "start",
                            course_start.isoformat(),
                            f"a start after which the clinic is open on the days of phase "
                            f"{phase.name!r} (its working days, closures and holidays leave "
                            "none within three years)",
                        )
                    ]
                )
            week = _monday(day)
            if day.weekday() in allowed and calendar.is_open(day):
                anchor = anchors.setdefault(index, week)
                in_week = ((week - anchor).days // 7) % phase.every_weeks == 0
                room = phase.per_week - counts[(index, week)]
                if in_week and room > 0:
                    today = min(phase.sessions_per_day, remaining, room)
                    start = datetime.combine(day, at)
                    for k in range(today):
                        begins = start + timedelta(minutes=k * (minutes + phase.gap_minutes))
                        if begins.date() != day:
                            raise InputError(
                                [
                                    Problem(
                                        "session_time",
                                        at.isoformat(timespec="minutes"),
                                        f"a time from which the {today} sessions of a day of "
                                        f"phase {phase.name!r} end before midnight",
                                    )
                                ]
                            )
                        slots.append(
                            Slot(
                                number=number,
                                date=day,
                                time=begins.time(),
                                minutes=minutes,
                                phase=index,
                                phase_name=phase.name,
                            )
                        )
                        number += 1
                    counts[(index, week)] += today
                    remaining -= today
            day += timedelta(days=1)
    return slots


def plan(template: CourseTemplate, start: date, at: time, calendar: WorkCalendar) -> list[Slot]:
    """Every session of a new course, from its start date (at most :data:`LATEST_START`)."""
    if start > LATEST_START:
        raise InputError(
            [
                Problem(
                    "start",
                    start.isoformat(),
                    f"a date on or before {LATEST_START.isoformat()} (a course is planned up "
                    "to three years after its start, and the calendar ends on 9999-12-31)",
                )
            ]
        )
    needs = [p.sessions for p in template.phases]
    return _place(template, needs, start, at, calendar, start, 1, [])


def replan(
    template: CourseTemplate,
    start: date,
    at: time,
    calendar: WorkCalendar,
    taken: Sequence[Taken],
    resume: date,
) -> list[Slot]:
    """The sessions still owed after the ``taken`` ones, placed from ``resume`` on."""
    delivered = Counter(t.phase for t in taken if t.delivered)
    needs = [max(0, p.sessions - delivered[i]) for i, p in enumerate(template.phases)]
    first = max((t.number for t in taken), default=0) + 1
    return _place(template, needs, resume, at, calendar, start, first, taken)


def assign_measurements(
    template: CourseTemplate, sessions: Sequence[tuple[int, date]]
) -> dict[int, list[Due]]:
    """Measurement points by session number. ``sessions`` are the sessions that count (not
    missed or cancelled), in order, as (number, date)."""
    due: dict[int, list[Due]] = {}

    def add(number: int, instrument: str, timing: Literal["before", "after"], why: str) -> None:
        entries = due.setdefault(number, [])
        if not any(d.instrument == instrument and d.timing == timing for d in entries):
            entries.append(Due(instrument=instrument, timing=timing, why=why))

    if not sessions:
        return due
    seen_weeks: set[date] = set()
    seen_days: set[date] = set()
    for ordinal, (number, day) in enumerate(sessions, start=1):
        for point in template.measurements:
            i = point.instrument
            if point.when == "before_first" and ordinal == 1:
                add(number, i, "before", "baseline")
            elif point.when == "weekly" and _monday(day) not in seen_weeks:
                add(number, i, "before", "weekly")
            elif point.when == "daily" and day not in seen_days:
                add(number, i, "before", "daily")
            elif point.when == "after_every" and point.every and ordinal % point.every == 0:
                add(number, i, "after", f"after every {point.every} sessions")
            elif point.when == "at_session" and ordinal == point.session:
                add(number, i, "after", f"after session {ordinal}")
            elif point.when == "at_end" and ordinal == len(sessions):
                add(number, i, "after", "end of course")
        if template.review and ordinal == template.review.at_session:
            add(number, template.instrument, "after", "review point")
        seen_weeks.add(_monday(day))
        seen_days.add(day)
    return due
