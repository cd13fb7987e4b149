"""How long a medication order lasts: ``medicationRequestPeriod`` of the CQL library
CumulativeMedicationDuration, used by CMS2 for antidepressant follow-up.

* It starts on the day the single dosage's ``boundsPeriod`` starts, else the day the order
  was authored, else the day its dispense validity starts.
* The days supplied are the expected supply duration in days, else the quantity divided by
  (dose × doses per day); times (1 + the number of refills).
* With a start and days supplied it is ``[start, start + days supplied - 1 day]`` (fractions
  of a day truncated); else with a start and a ``boundsPeriod`` end, ``[start, that end]``;
  else there is none. A start given only to the year or month keeps that precision, and the
  end counted from it too (CQL date arithmetic).
* Doses per day come from the timing's frequency and period (CQL ``ToDaily``), else the
  number of ``timeOfDay`` entries; zero doses per day leave the quantity unused.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

from trdnav.measures.records import MedicationRequest, Supply
from trdnav.measures.timing import Moment, Span, before, date_of, shift_days

__all__ = ["DAYS_PER_UNIT", "doses_per_day", "request_days", "request_period", "supply_days"]

DAYS_PER_UNIT: dict[str, float] = {
    **dict.fromkeys(("s", "second", "seconds"), 1 / 86400),
    **dict.fromkeys(("min", "minute", "minutes"), 1 / 1440),
    **dict.fromkeys(("h", "hour", "hours"), 1 / 24),
    **dict.fromkeys(("d", "day", "days"), 1.0),
    **dict.fromkeys(("wk", "week", "weeks"), 7.0),
    **dict.fromkeys(("mo", "month", "months"), 30.0),
    **dict.fromkeys(("a", "year", "years"), 365.0),
}
"""Days in each unit of time. ``ToDaily`` counts 30 days in a month and 365 in a year; the
same factors convert a supply duration."""


def doses_per_day(supply: Supply) -> float | None:
    """``ToDaily(frequency, period)``, else the number of times of day (which may be 0)."""
    if supply.frequency is not None and supply.period and supply.period_unit in DAYS_PER_UNIT:
        return supply.frequency / (supply.period * DAYS_PER_UNIT[supply.period_unit])
    return float(supply.times_of_day)


def supply_days(supply: Supply) -> float | None:
    """The total days supplied, refills included, or None when it cannot be worked out."""
    days = supply.expected_supply_days
    if days is None and supply.quantity is not None and supply.dose is not None:
        per_day = doses_per_day(supply)
        if per_day and supply.dose:
            days = supply.quantity / (supply.dose * per_day)
    if days is None:
        return None
    return days * (1 + supply.refills)


def _start(request: MedicationRequest) -> Moment | None:
    """``startDate``: the date the single dosage's ``boundsPeriod`` starts, else the day the
    order was authored, else the day its dispense validity starts; as given (a date given to
    the year or month keeps that precision)."""
    supply = request.supply
    if supply.bounds is not None and supply.bounds.start is not None:
        return date_of(supply.bounds.start)
    if request.authored_on is not None:
        return date_of(request.authored_on)
    if supply.validity_start is not None:
        return date_of(supply.validity_start)
    return None


def _last_offset(supply: Supply, first: date) -> int | None:
    """Whole days from the start to the last day supplied (``totalDaysSupplied - 1``,
    truncated as CQL adds a decimal quantity), or None when there is no supply to count or
    it is no number of days a date can reach from ``first``."""
    days = supply_days(supply)
    if days is None or not math.isfinite(days):
        return None
    offset = int(days - 1)
    return offset if 0 <= offset <= (date.max - first).days else None


def request_days(request: MedicationRequest) -> tuple[date, date] | None:
    """The first and last day the order covers (:func:`request_period`), or None; a date given
    only to the year or month is read as its first day (as the FHIR import dates a trial)."""
    start = _start(request)
    if start is None:
        return None
    supply = request.supply
    if supply_days(supply) is not None:
        offset = _last_offset(supply, start.day)
        return None if offset is None else (start.day, start.day + timedelta(days=offset))
    if supply.bounds is not None and supply.bounds.end is not None:
        end = supply.bounds.end.day
        return (start.day, end) if end >= start.day else None
    return None


def request_period(request: MedicationRequest) -> Span | None:
    """The days the order covers (``medicationRequestPeriod``), or None. A start given only to
    the year or month keeps its precision, and so does the end counted from it."""
    start = _start(request)
    if start is None:
        return None
    supply = request.supply
    if supply_days(supply) is not None:
        offset = _last_offset(supply, start.day)
        return None if offset is None else Span(start, shift_days(start, offset))
    if supply.bounds is not None and supply.bounds.end is not None:
        end = date_of(supply.bounds.end)
        return None if before(end, start) else Span(start, end)
    return None
