"""Points and periods of time as the measures' CQL compares them.

A FHIR ``dateTime`` becomes a :class:`Moment`: the calendar day as recorded, plus the exact
instant when a time of day (with its offset) was recorded. A date given only to the year or
the month keeps that precision: it could be any day from :attr:`Moment.day` to
:attr:`Moment.last_day` (the comparisons below still read it as its first day). A ``Period``
(or the interval of a single dateTime) becomes a :class:`Span`.

* **Day precision** (``during day of``, ``overlaps day of``, ``ends during day of``, ...)
  compares calendar days as recorded, without converting time-zone offsets: CQL normalises
  offsets only for comparisons at hour precision or finer.
* **Full precision** (``overlaps``, ``during``) compares instants. A value recorded without
  a time is known to the day only: against a value with a time on the same day the result
  is unknown, as in CQL.
* A missing bound is either **open-ended** (a period with no end, a condition that has not
  abated: CQL's closed null bound, the beginning or end of time) or **unknown** (a period with
  no start: CQL's open null bound).
* Every comparison whose answer is unknown is **not met**: the measures only ever use these
  comparisons in ``where`` and ``such that`` clauses, where an unknown result excludes.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import IntEnum

__all__ = [
    "Moment",
    "Precision",
    "Span",
    "add_months",
    "day_in",
    "days_during",
    "days_overlap",
    "days_overlap_after",
    "ends_on_days",
    "moment_during",
    "overlaps",
]


def add_months(day: date, months: int) -> date:
    """``day`` plus whole calendar months; the 31st becomes the last day of a shorter month
    (CQL date arithmetic: 2025-01-31 + 1 month = 2025-02-28)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


class Precision(IntEnum):
    """How much of a date was given: the year, the month, the day, or a time of day too."""

    YEAR = 1
    MONTH = 2
    DAY = 3
    TIME = 4


@dataclass(frozen=True, slots=True)
class Moment:
    """A point in time: its first possible calendar day as recorded, its precision, and its
    instant when a time was given.

    ``day`` is the day itself for a full date or a time; for a date given to the year or
    month it is the first day of that year or month, and :attr:`last_day` the last.
    """

    day: date
    at: datetime | None = None
    precision: Precision = Precision.DAY
    last_day: date = field(init=False, repr=False, compare=False)
    sort_key: datetime = field(init=False, repr=False, compare=False)
    """Where the moment sorts: its instant, or the start of its first possible day (UTC)."""

    def __post_init__(self) -> None:
        if self.at is not None:
            if self.at.tzinfo is None:
                raise ValueError("a Moment's instant needs a time-zone offset")
            object.__setattr__(self, "precision", Precision.TIME)
        elif self.precision is Precision.TIME:
            raise ValueError("a Moment with a time of day needs its instant")
        last = self.day
        if self.precision is Precision.YEAR:
            if (self.day.month, self.day.day) != (1, 1):
                raise ValueError("a Moment given to the year starts on 1 January")
            last = date(self.day.year, 12, 31)
        elif self.precision is Precision.MONTH:
            if self.day.day != 1:
                raise ValueError("a Moment given to the month starts on its first day")
            last = self.day.replace(day=calendar.monthrange(self.day.year, self.day.month)[1])
        object.__setattr__(self, "last_day", last)
        key = self.at if self.at is not None else datetime.combine(self.day, time.min, UTC)
        object.__setattr__(self, "sort_key", key)

    @classmethod
    def year(cls, year: int) -> Moment:
        """A date given to the year only (``2013``)."""
        return cls(date(year, 1, 1), precision=Precision.YEAR)

    @classmethod
    def month(cls, year: int, month: int) -> Moment:
        """A date given to the month only (``2025-03``)."""
        return cls(date(year, month, 1), precision=Precision.MONTH)

    @property
    def is_partial(self) -> bool:
        """Whether the date was given only to the year or the month."""
        return self.precision < Precision.DAY

    def __str__(self) -> str:
        """The date as given: ``2013``, ``2025-03``, or the day (also for a time)."""
        if self.precision is Precision.YEAR:
            return f"{self.day.year:04d}"
        if self.precision is Precision.MONTH:
            return f"{self.day.year:04d}-{self.day.month:02d}"
        return self.day.isoformat()


@dataclass(frozen=True, slots=True)
class Span:
    """A period from ``start`` to ``end``, both included.

    ``None`` is open-ended (from the beginning, or with no end) unless flagged unknown.
    """

    start: Moment | None = None
    end: Moment | None = None
    start_unknown: bool = False
    end_unknown: bool = False

    @classmethod
    def at(cls, moment: Moment) -> Span:
        """The span of a single point in time (CQL ``Interval[x, x]``)."""
        return cls(moment, moment)

    @property
    def first_day(self) -> date | None:
        """The first day at day precision; ``date.min`` if open-ended, ``None`` if unknown."""
        if self.start is not None:
            return self.start.day
        return None if self.start_unknown else date.min

    @property
    def last_day(self) -> date | None:
        """The last day at day precision; ``date.max`` if open-ended, ``None`` if unknown."""
        if self.end is not None:
            return self.end.day
        return None if self.end_unknown else date.max

    def __str__(self) -> str:
        first = "?" if self.start_unknown else (str(self.start) if self.start else "")
        last = "?" if self.end_unknown else (str(self.end) if self.end else "")
        return first if first == last else f"{first}..{last}"


# --- day precision ---------------------------------------------------------------------


def day_in(day: date | None, first: date, last: date) -> bool:
    """``day`` falls within ``first..last`` (both included)."""
    return day is not None and first <= day <= last


def days_overlap(span: Span, first: date, last: date) -> bool:
    """``span overlaps day of Interval[first, last]``."""
    start, end = span.first_day, span.last_day
    return start is not None and end is not None and start <= last and end >= first


def days_during(span: Span, first: date, last: date) -> bool:
    """``span during day of Interval[first, last]``: it starts and ends within the days."""
    start, end = span.first_day, span.last_day
    return start is not None and end is not None and first <= start and end <= last


def ends_on_days(span: Span, first: date, last: date) -> bool:
    """``span ends during day of Interval[first, last]``."""
    return day_in(span.last_day, first, last)


def days_overlap_after(span: Span, other: Span) -> bool:
    """``span overlaps after day of other``: they overlap and ``span`` ends on a later day."""
    start, end = span.first_day, span.last_day
    first, last = other.first_day, other.last_day
    if start is None or end is None or first is None or last is None:
        return False
    return start <= last and end >= first and end > last


# --- full precision --------------------------------------------------------------------


def _before_or_same(a: Moment, b: Moment) -> bool | None:
    """``a <= b`` in CQL: by instant when both have one, else by day; unknown on the same
    day when only one of them has a time."""
    if a.at is not None and b.at is not None:
        return a.at <= b.at
    if a.day != b.day:
        return a.day < b.day
    return True if a.at is None and b.at is None else None


def _start_not_after(span: Span, moment: Moment | None) -> bool | None:
    """``start of span <= moment`` (``moment`` None: the end of time)."""
    if span.start is None:
        return None if span.start_unknown else True
    if moment is None:
        return True
    return _before_or_same(span.start, moment)


def _end_not_before(span: Span, moment: Moment | None) -> bool | None:
    """``end of span >= moment`` (``moment`` None: the beginning of time)."""
    if span.end is None:
        return None if span.end_unknown else True
    if moment is None:
        return True
    return _before_or_same(moment, span.end)


def overlaps(a: Span, b: Span) -> bool:
    """``a overlaps b`` at full precision (unknown is not met)."""
    if b.start_unknown or b.end_unknown:
        return False
    return _start_not_after(a, b.end) is True and _end_not_before(a, b.start) is True


def moment_during(moment: Moment, span: Span) -> bool:
    """``moment during span`` at full precision, both ends included (unknown is not met)."""
    after_start = True if span.start is None else _before_or_same(span.start, moment)
    before_end = True if span.end is None else _before_or_same(moment, span.end)
    if span.start_unknown or span.end_unknown:
        return False
    return after_start is True and before_end is True
