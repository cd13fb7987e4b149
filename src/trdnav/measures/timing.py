"""Points and periods of time as the measures' CQL compares them.

A FHIR ``date`` or ``dateTime`` becomes a :class:`Moment`: the calendar day as recorded, plus
the exact instant when a time of day (with its offset) was recorded. A date given only to the
year (``2013``) or the month (``2025-03``) keeps that precision: it could be any day of its
year or month, from :attr:`Moment.day` to :attr:`Moment.last_day`. A ``Period`` (or the
interval of a single dateTime) becomes a :class:`Span`.

Comparisons are three-valued, as in CQL: true, false, or ``None`` when the data cannot settle
them (:data:`Truth`).

* **Day precision** (``same day or before``, ``during day of``, ``overlaps day of``, ...)
  compares year, month and day in turn, as recorded (CQL normalises time-zone offsets only
  for comparisons at hour precision or finer). The first that differs decides; when one value
  has no month or no day where the other's year or month is the same, the answer is unknown.
  So ``2013`` is before ``2014-01-01`` and on or before ``2013-12-31`` is unknown (CQL's
  reference for these operators, and the engines, compare this way).
* **Full precision** (``overlaps``, ``during``, ``<=``) compares instants when both values
  have one. Otherwise it compares to the coarser of the two precisions: values of the same
  precision that are equal are equal (``2013 <= 2013``), a value known to the day against one
  with a time on that day is unknown.
* A missing bound is either **open-ended** (a period with no end, a condition that has not
  abated: CQL's closed null bound, the beginning or end of time, :class:`Edge`) or
  **unknown** (a period with no start: CQL's open null bound).
* **Uncertain numbers** (an age from a birth date given to the year: 11 or 12) compare as
  CQL's uncertainty: true when true for every possible value, false when false for every
  one, else unknown (:class:`Uncertainty`).
* **Arithmetic** on a date given to the year or month (``2025-03`` minus 7 days) works from
  its first day when adding and its last day when subtracting, then keeps the date's
  precision (``2025-03``), as CQL does.

The measures use these comparisons only in ``where`` and ``such that`` clauses and in
population criteria, where unknown is not met.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum, IntEnum

from trdnav.core.dates import age_in_years

__all__ = [
    "CALENDAR_UNITS",
    "Bound",
    "Edge",
    "Moment",
    "Precision",
    "Span",
    "Truth",
    "Uncertainty",
    "add_months",
    "age_in_years_at",
    "and3",
    "before",
    "date_of",
    "days_during",
    "days_overlap",
    "days_overlap_after",
    "end_of",
    "ends_on_days",
    "in_days",
    "moment_during",
    "on_or_before",
    "or3",
    "order",
    "overlaps",
    "plus",
    "predecessor",
    "shift_days",
    "shift_months",
    "start_of",
]

Truth = bool | None
"""CQL's three-valued Boolean: ``None`` is unknown (null)."""


def and3(*values: Truth) -> Truth:
    """CQL ``and``: false if any is false, true if all are true, else unknown."""
    found: Truth = True
    for value in values:
        if value is False:
            return False
        if value is None:
            found = None
    return found


def or3(*values: Truth) -> Truth:
    """CQL ``or``: true if any is true, false if all are false, else unknown."""
    found: Truth = False
    for value in values:
        if value is True:
            return True
        if value is None:
            found = None
    return found


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


_YEAR, _MONTH, _DAY, _TIME = Precision
_MIDNIGHT = time.min
_set = object.__setattr__


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
        day, at, precision = self.day, self.at, self.precision
        if at is not None:
            if at.tzinfo is None:
                raise ValueError("a Moment's instant needs a time-zone offset")
            _set(self, "precision", _TIME)
            _set(self, "last_day", day)
            _set(self, "sort_key", at)
            return
        if precision is _DAY:
            last = day
        elif precision is _YEAR:
            if (day.month, day.day) != (1, 1):
                raise ValueError("a Moment given to the year starts on 1 January")
            last = date(day.year, 12, 31)
        elif precision is _MONTH:
            if day.day != 1:
                raise ValueError("a Moment given to the month starts on its first day")
            last = day.replace(day=calendar.monthrange(day.year, day.month)[1])
        else:
            raise ValueError("a Moment with a time of day needs its instant")
        _set(self, "last_day", last)
        _set(self, "sort_key", datetime.combine(day, _MIDNIGHT, UTC))

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


class Edge(Enum):
    """A missing bound of a span: the beginning or end of time, or unknown."""

    EARLIEST = "beginning of time"
    LATEST = "end of time"
    UNKNOWN = "unknown"


Bound = Moment | Edge
"""Where a span starts or ends: a moment, or an :class:`Edge`."""


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

    def __str__(self) -> str:
        first = "?" if self.start_unknown else (str(self.start) if self.start else "")
        last = "?" if self.end_unknown else (str(self.end) if self.end else "")
        return first if first == last else f"{first}..{last}"


def start_of(span: Span) -> Bound:
    """CQL ``start of``: the start, the beginning of time, or unknown."""
    if span.start is not None:
        return span.start
    return Edge.UNKNOWN if span.start_unknown else Edge.EARLIEST


def end_of(span: Span) -> Bound:
    """CQL ``end of``: the end, the end of time, or unknown."""
    if span.end is not None:
        return span.end
    return Edge.UNKNOWN if span.end_unknown else Edge.LATEST


# --- comparing two points ----------------------------------------------------------------

_EDGE_RANK = {Edge.EARLIEST: -1, Edge.LATEST: 1}
_UNKNOWN = Edge.UNKNOWN


def order(a: Bound, b: Bound, by_day: bool = True) -> int | None:
    """-1, 0 or 1 as ``a`` is before, the same as or after ``b``; ``None`` when unknown.

    ``by_day`` compares at day precision (CQL ``... day of``), else at full precision."""
    if type(a) is not Moment or type(b) is not Moment:
        if a is _UNKNOWN or b is _UNKNOWN:
            return None
        rank_a = _EDGE_RANK[a] if isinstance(a, Edge) else 0
        rank_b = _EDGE_RANK[b] if isinstance(b, Edge) else 0
        return (rank_a > rank_b) - (rank_a < rank_b)
    if not by_day and a.at is not None and b.at is not None:
        return (a.at > b.at) - (a.at < b.at)
    # A year or a month spans its days; two spans of calendar units are either nested or
    # apart, so they overlap exactly when their common components are equal.
    if a.last_day < b.day:
        return -1
    if a.day > b.last_day:
        return 1
    if by_day:
        return 0 if a.precision >= _DAY and b.precision >= _DAY else None
    return 0 if a.precision is b.precision else None


def on_or_before(a: Bound, b: Bound, by_day: bool = True) -> Truth:
    """CQL ``a same day or before b`` (``by_day``), else ``a <= b``."""
    found = order(a, b, by_day)
    return None if found is None else found <= 0


def before(a: Bound, b: Bound, by_day: bool = True) -> Truth:
    """CQL ``a before day of b`` (``by_day``), else ``a < b``."""
    found = order(a, b, by_day)
    return None if found is None else found < 0


# --- spans and points at day precision ----------------------------------------------------


def in_days(point: Bound, first: Bound, last: Bound) -> Truth:
    """``point in day of Interval[first, last]``: on or after ``first`` and on or before
    ``last``, by day."""
    return and3(on_or_before(first, point), on_or_before(point, last))


def days_overlap(span: Span, first: Bound, last: Bound) -> Truth:
    """``span overlaps day of Interval[first, last]``."""
    return and3(on_or_before(start_of(span), last), on_or_before(first, end_of(span)))


def days_during(span: Span, first: Bound, last: Bound) -> Truth:
    """``span during day of Interval[first, last]``: it starts and ends within the days."""
    return and3(on_or_before(first, start_of(span)), on_or_before(end_of(span), last))


def ends_on_days(span: Span, first: Bound, last: Bound) -> Truth:
    """``span ends during day of Interval[first, last]``."""
    return in_days(end_of(span), first, last)


def days_overlap_after(span: Span, other: Span) -> Truth:
    """``span overlaps after day of other``: it starts on or before the day ``other`` ends,
    and ends on a later day."""
    last = end_of(other)
    return and3(on_or_before(start_of(span), last), before(last, end_of(span)))


# --- spans and points at full precision ---------------------------------------------------


def overlaps(a: Span, b: Span) -> Truth:
    """``a overlaps b`` at full precision."""
    return and3(
        on_or_before(start_of(a), end_of(b), by_day=False),
        on_or_before(start_of(b), end_of(a), by_day=False),
    )


def moment_during(moment: Bound, span: Span) -> Truth:
    """``moment during span`` at full precision, both ends included."""
    return and3(
        on_or_before(start_of(span), moment, by_day=False),
        on_or_before(moment, end_of(span), by_day=False),
    )


# --- arithmetic --------------------------------------------------------------------------


def date_of(moment: Moment) -> Moment:
    """CQL ``date from``: the day of a moment with a time; a date as it is."""
    return Moment(moment.day) if moment.at is not None else moment


def _truncate(day: date, precision: Precision) -> Moment:
    """The moment of ``day`` kept to a date's precision (never finer than the day)."""
    if precision is Precision.YEAR:
        return Moment(date(day.year, 1, 1), precision=Precision.YEAR)
    if precision is Precision.MONTH:
        return Moment(day.replace(day=1), precision=Precision.MONTH)
    return Moment(day)


def _clamped(day: date, days: int) -> date:
    """``day`` plus ``days``, held within the days a date can hold."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def _clamped_months(day: date, months: int) -> date:
    """:func:`add_months`, held within the days a date can hold."""
    index = day.year * 12 + day.month - 1 + months
    if index < 12:
        return date.min
    if index >= 12 * 10000:
        return date.max
    return add_months(day, months)


def shift_days(moment: Moment, days: int) -> Moment:
    """The date of ``moment`` plus (or minus) whole days, kept to its precision: a date given
    to the year or month moves from its first day when adding, its last when subtracting."""
    start = moment.day if days >= 0 or not moment.is_partial else moment.last_day
    return _truncate(_clamped(start, days), min(moment.precision, Precision.DAY))


def shift_months(moment: Moment, months: int) -> Moment:
    """The date of ``moment`` plus (or minus) whole calendar months, kept to its precision
    (the 31st becomes the last day of a shorter month)."""
    start = moment.day if months >= 0 or not moment.is_partial else moment.last_day
    return _truncate(_clamped_months(start, months), min(moment.precision, Precision.DAY))


CALENDAR_UNITS: dict[str, str] = {
    **dict.fromkeys(("a", "year", "years"), "year"),
    **dict.fromkeys(("mo", "month", "months"), "month"),
    **dict.fromkeys(("wk", "week", "weeks"), "week"),
    **dict.fromkeys(("d", "day", "days"), "day"),
    **dict.fromkeys(("h", "hour", "hours"), "hour"),
    **dict.fromkeys(("min", "minute", "minutes"), "minute"),
    **dict.fromkeys(("s", "second", "seconds"), "second"),
    **dict.fromkeys(("ms", "millisecond", "milliseconds"), "millisecond"),
}
"""UCUM units of time and CQL's calendar-duration keywords, by the calendar unit CQL adds
(FHIRHelpers ``ToCalendarUnit``: ``a`` is a calendar year, ``mo`` a calendar month)."""

_DAYS_IN: dict[str, int] = {"week": 7, "day": 1}
_PER_DAY: dict[str, int] = {"hour": 24, "minute": 1440, "second": 86400, "millisecond": 86400000}


def plus(moment: Moment, value: float, unit: str) -> Moment:
    """CQL ``date + quantity`` for a calendar ``unit`` (:data:`CALENDAR_UNITS` values): whole
    units only (a decimal part is dropped), and a unit finer than a day counts the whole days
    it makes, as a date holds no time."""
    whole = math.trunc(value)
    if unit == "year":
        return shift_months(moment, 12 * whole)
    if unit == "month":
        return shift_months(moment, whole)
    if unit in _DAYS_IN:
        return shift_days(moment, _DAYS_IN[unit] * whole)
    return shift_days(moment, math.trunc(value / _PER_DAY[unit]))


def predecessor(moment: Moment) -> Moment:
    """CQL ``predecessor of``: the moment one unit of its precision earlier (the previous
    year, month or day; the instant a millisecond before a time)."""
    if moment.at is not None:
        try:
            at = moment.at - timedelta(milliseconds=1)
            at.astimezone(UTC)  # a moment is compared in UTC: it must be in the calendar there
        except OverflowError:
            return moment  # the first instant there is: held there, as dates are
        return Moment(at.date(), at)
    if moment.precision is Precision.DAY:
        return shift_days(moment, -1)
    return shift_months(moment, -12 if moment.precision is Precision.YEAR else -1)


# --- uncertain whole numbers -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Uncertainty:
    """CQL's uncertainty: some whole number from ``low`` to ``high`` (equal when known)."""

    low: int
    high: int

    def at_least(self, n: int) -> Truth:
        """``>= n``: true when even the lowest is, false when even the highest is not."""
        return True if self.low >= n else (False if self.high < n else None)

    def at_most(self, n: int) -> Truth:
        """``<= n``."""
        return True if self.high <= n else (False if self.low > n else None)

    def within(self, low: int, high: int) -> Truth:
        """``in Interval[low, high]``."""
        return and3(self.at_least(low), self.at_most(high))

    def equals(self, n: int) -> Truth:
        """``= n``: true only when known to be ``n``."""
        if n < self.low or n > self.high:
            return False
        return True if self.low == self.high else None

    def __str__(self) -> str:
        if self.low == self.high:
            return str(self.low)
        joint = " or " if self.high == self.low + 1 else " to "
        return f"{self.low}{joint}{self.high}"


def age_in_years_at(birth: Moment, on: Moment) -> Uncertainty:
    """CQL ``AgeInYearsAt(on)``: completed years from a birth date to a day. A birth date (or
    day) given to the year or month gives every age it allows: the youngest from its last
    possible day to the earliest ``on``, the oldest from its first to the latest ``on``."""
    return Uncertainty(age_in_years(birth.last_day, on.day), age_in_years(birth.day, on.last_day))
