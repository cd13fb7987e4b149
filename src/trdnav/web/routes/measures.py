"""Quality measures (CMS159, CMS2) over the clinic's patients: each patient listed under the
population the measure puts them in, with the evidence for it.

The page calls the use case the API's ``GET /measures/{measure}`` calls
(:func:`trdnav.clinic.measures.clinic_measure_view`): the same patients (the caller's clinic),
the same result, and the same audit record (``measure.read``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from trdnav.clinic import measures
from trdnav.clinic.measures import ClinicMeasure, MeasuredPatient
from trdnav.knowledge.measures import load_measure, measure_ids
from trdnav.measures.results import Population
from trdnav.web import forms
from trdnav.web.deps import Reader, WebUser
from trdnav.web.pages import render

router = APIRouter(prefix="/app/measures", include_in_schema=False)

FIRST_YEAR, LAST_YEAR = 1900, 2200
P = Population


@dataclass(frozen=True)
class Group:
    """Patients the measure treats alike, shown under one heading."""

    key: str
    title: str
    text: str
    patients: list[MeasuredPatient]


GROUPS = (
    ("numerator", "Numerator: met", "In the denominator, not excluded, and the measure is met."),
    (
        "exclusion",
        "Denominator exclusions",
        "In the denominator, and excluded by the measure's exclusion criteria.",
    ),
    (
        "exception",
        "Denominator exceptions",
        "In the denominator, neither excluded nor met, with a recorded reason that excepts them.",
    ),
    (
        "not-met",
        "Denominator: not met",
        "In the denominator, neither excluded nor excepted, and the measure is not met.",
    ),
    (
        "initial-only",
        "Initial population only",
        "In the initial population but not in the denominator.",
    ),
    (
        "outside",
        "Not in the initial population",
        "The measure does not apply to them for this period; the evidence says what was not found.",
    ),
)


def group_of(patient: MeasuredPatient) -> str:
    r = patient.result
    if not r[P.INITIAL_POPULATION]:
        return "outside"
    if not r[P.DENOMINATOR]:
        return "initial-only"
    if r[P.DENOMINATOR_EXCLUSION]:
        return "exclusion"
    if r[P.NUMERATOR]:
        return "numerator"
    if r[P.DENOMINATOR_EXCEPTION]:
        return "exception"
    return "not-met"


def groups(found: ClinicMeasure) -> list[Group]:
    by_key: dict[str, list[MeasuredPatient]] = {key: [] for key, _, _ in GROUPS}
    for patient in found.patients:
        by_key[group_of(patient)].append(patient)
    has = set(found.info.populations)
    shown = []
    for key, title, text in GROUPS:
        if key == "exception" and P.DENOMINATOR_EXCEPTION not in has:
            continue
        if key == "initial-only" and not by_key[key]:
            continue
        shown.append(Group(key, title, text, by_key[key]))
    return shown


def _year(text: str, default: int) -> tuple[int | None, str | None]:
    if not text:
        return default, None
    year = forms.whole(text)
    if year is not None and FIRST_YEAR <= year <= LAST_YEAR:
        return year, None
    return None, f"Enter a year from {FIRST_YEAR} to {LAST_YEAR}, such as {default}."


@router.get("")
async def measure_page(request: Request, user: Reader) -> Response:
    known = measure_ids()
    choices = [(m, load_measure(m).info) for m in known]
    default_year = user.today.year - 1
    measure_text = request.query_params.get("measure", "").strip().lower() or known[0]
    period_text = request.query_params.get("period", "").strip()
    errors: dict[str, str] = {}
    if measure_text not in known:
        errors["measure"] = "Choose one of the measures listed."
    year, period_error = _year(period_text, default_year)
    if period_error:
        errors["period"] = period_error
    found = None
    if not errors and year is not None:
        found = await run_in_threadpool(_measure, user, measure_text, year)
    context: dict[str, Any] = {
        "choices": choices,
        "measure_id": measure_text,
        "period_text": period_text or str(default_year),
        "errors": errors,
        "found": found,
        "groups": groups(found) if found else [],
        "counts": found.result.counts() if found else {},
        "score": found.result.score if found else None,
    }
    return render(
        request,
        "measures.html",
        context,
        status=422 if errors else 200,
        actor=user.actor,
    )


def _measure(user: WebUser, measure_id: str, year: int) -> ClinicMeasure:
    state = user.state
    return measures.clinic_measure_view(
        state.store, user.actor, state.kb, state.codes, measure_id, year, user.today
    )
