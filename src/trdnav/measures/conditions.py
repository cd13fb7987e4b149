"""Conditions as QI-Core's common CQL reads them: prevalence and confirmed activity.

* ``isActive``: the clinical status is active, recurrence or relapse.
* ``isConfirmedActiveDiagnosis``: active, and the verification status is confirmed.
* ``prevalenceInterval``: from the start of the onset to the end of the abatement. For an
  active condition without abatement it is open-ended; for an inactive one without abatement
  its end is unknown. A condition without onset is prevalent from the beginning of time.
"""

from __future__ import annotations

from trdnav.measures.records import Condition
from trdnav.measures.terminology import Terms
from trdnav.measures.timing import Span

__all__ = ["is_active", "is_confirmed_active", "prevalence"]


def is_active(condition: Condition, active: Terms) -> bool:
    return active.match(condition.clinical_status) is not None


def is_confirmed_active(condition: Condition, active: Terms, confirmed: Terms) -> bool:
    return (
        is_active(condition, active) and confirmed.match(condition.verification_status) is not None
    )


def prevalence(condition: Condition, active: Terms) -> Span:
    if condition.abatement_end is None and not is_active(condition, active):
        return Span(condition.onset_start, None, end_unknown=True)
    return Span(condition.onset_start, condition.abatement_end)
