"""Conditions as QI-Core's common CQL reads them: prevalence and confirmed activity.

* ``isActive``: the clinical status is active, recurrence or relapse.
* ``isConfirmedActiveDiagnosis``: active, and the verification status is confirmed.
* ``toInterval`` of the onset, ``abatementInterval``: a dateTime is itself; a Period is
  itself as an onset, but ``abatementInterval`` makes it ``Interval[start, end)``, so an
  abatement Period ends just before its end (the day before a date, the previous month or
  year of a partial date, the instant before a time); an Age counts
  from the birth date, to the day the patient reached it and up to the day before the next
  birthday (an onset age of 40 years is the 40th birthday, an abatement age of 40 the day
  before the 41st); a Range of ages runs from its low age to the day before the birthday
  after its high one. Without a birth date an Age or Range is null.
* ``prevalenceInterval``: from the start of the onset to the end of the abatement. For an
  active condition without abatement it is open-ended; for an inactive one without abatement
  its end is unknown. A condition without onset (or whose onset has no start: a Period
  without one, a Range without a low age) is prevalent from the beginning of time.
"""

from __future__ import annotations

from trdnav.measures.records import Age, AgeRange, Condition
from trdnav.measures.terminology import Terms
from trdnav.measures.timing import Moment, Span, date_of, plus, predecessor

__all__ = [
    "abatement_end",
    "birthday",
    "is_active",
    "is_confirmed_active",
    "onset_start",
    "onset_text",
    "prevalence",
]


def is_active(condition: Condition, active: Terms) -> bool:
    return active.match(condition.clinical_status) is not None


def is_confirmed_active(condition: Condition, active: Terms, confirmed: Terms) -> bool:
    return (
        is_active(condition, active) and confirmed.match(condition.verification_status) is not None
    )


def birthday(birth: Moment | None, age: Age, years_after: int = 0) -> Moment | None:
    """``Patient.birthDate + age`` (+ ``years_after`` years): the day the patient reached the
    age, to the birth date's precision; None without a birth date."""
    if birth is None:
        return None
    reached = plus(date_of(birth), age.value, age.unit)
    return plus(reached, years_after, "year") if years_after else reached


def onset_start(condition: Condition, birth: Moment | None) -> Moment | None:
    """``start of onset.toInterval()``; None when it is null (no onset, a Period without a
    start, a Range without a low age, an age without a birth date)."""
    onset = condition.onset
    if isinstance(onset, Moment):
        return onset
    if isinstance(onset, Span):
        return onset.start
    if isinstance(onset, Age):
        return birthday(birth, onset)
    if isinstance(onset, AgeRange) and onset.low is not None:
        return birthday(birth, onset.low)
    return None


def abatement_end(condition: Condition, birth: Moment | None) -> Moment | None:
    """``end of abatementInterval()``; None when it is null (not abated, a Period or Range
    without an end). An abatement Period ``[start, end)`` ends just before its end."""
    abatement = condition.abatement
    if isinstance(abatement, Moment):
        return abatement
    if isinstance(abatement, Span):
        return None if abatement.end is None else predecessor(abatement.end)
    last = abatement.high if isinstance(abatement, AgeRange) else abatement
    if last is None:
        return None
    after = birthday(birth, last, years_after=1)
    return None if after is None else predecessor(after)


def onset_text(condition: Condition, birth: Moment | None) -> str | None:
    """The onset's start for the evidence (``2020-05-10, at age 40 years``), or None."""
    start = onset_start(condition, birth)
    if start is None:
        return None
    onset = condition.onset
    if isinstance(onset, Age | AgeRange):
        return f"{start}, at age {onset}"
    return str(start)


def prevalence(condition: Condition, active: Terms, birth: Moment | None) -> Span:
    """``prevalenceInterval()``: from the onset's start to the abatement's end."""
    start, end = onset_start(condition, birth), abatement_end(condition, birth)
    if end is None and not is_active(condition, active):
        return Span(start, None, end_unknown=True)
    return Span(start, end)
