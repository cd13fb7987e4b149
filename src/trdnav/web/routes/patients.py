"""The patient list (alerts first, filters, search, pages) and the patient dashboard."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from trdnav.clinic import courses, patients
from trdnav.core.assessment import Assessment
from trdnav.core.knowledge import KnowledgeBase
from trdnav.web import forms, present
from trdnav.web.deps import Reader
from trdnav.web.pages import redirect, render

router = APIRouter(prefix="/app", include_in_schema=False)

PAGE_SIZE = 25
MAX_PAGE = forms.MAX_WHOLE // PAGE_SIZE
FILTER_KEYS = ("q", "alerts", "trd", "stage_min", "stage_max", "severity", "course", "mine")


def _choice(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


@router.get("")
def home(request: Request) -> Response:
    return redirect(request, "/app/patients")


@router.get("/patients")
def patient_list(request: Request, user: Reader) -> Response:
    state = user.state
    raw = {k: request.query_params.get(k, "").strip() for k in FILTER_KEYS}
    # a number that is not one is refused, naming it (a choice that is not one is ignored)
    numbers = forms.whole_numbers(
        {
            "page": (request.query_params.get("page", ""), 1, MAX_PAGE),
            "stage_min": (raw["stage_min"], 0, 5),
            "stage_max": (raw["stage_max"], 0, 5),
        }
    )
    page = numbers["page"] or 1
    stage_min, stage_max = numbers["stage_min"], numbers["stage_max"]
    severities = list(
        dict.fromkeys(b.label for inst in state.kb.instruments.values() for b in inst.bands)
    )
    filters = patients.PatientFilters(
        q=raw["q"][:100] or None,
        alerts=True if raw["alerts"] == "yes" else None,
        trd=_choice(raw["trd"]),
        stage_min=stage_min,
        stage_max=stage_max,
        severity=raw["severity"] if raw["severity"] in severities else None,
        active_course=_choice(raw["course"]),
        clinician=user.actor.email if raw["mine"] == "yes" and user.actor.email else None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    result = patients.list_patients(
        state.store,
        user.actor,
        state.kb,
        filters,
        user.today,
        state.settings.adequate_trial_days,
    )
    pages = max(1, -(-result.total // PAGE_SIZE))
    kept = {k: v for k, v in raw.items() if v}

    def page_url(number: int) -> str:
        return "/app/patients?" + urlencode({**kept, "page": number})

    return render(
        request,
        "patients.html",
        {
            "page": result,
            "items": result.items,
            "alerting": [p for p in result.items if p["summary"]["open_alerts"]],
            "filters": raw,
            "filtered": bool(kept),
            "severities": severities,
            "page_number": page,
            "pages": pages,
            "page_url": page_url,
            "first_shown": result.offset + 1 if result.items else 0,
            "last_shown": result.offset + len(result.items),
        },
        actor=user.actor,
    )


@router.get("/patients/{patient_id}")
def dashboard(request: Request, patient_id: str, user: Reader) -> Response:
    state = user.state
    view, assessment = patients.patient_with_assessment(
        state.store,
        user.actor,
        state.kb,
        patient_id,
        user.today,
        state.settings.adequate_trial_days,
    )
    course_list = courses.list_courses(state.store, user.actor, state.kb, patient_id)
    return render(
        request,
        "patient.html",
        _dashboard_context(view, assessment, course_list, state.kb),
        actor=user.actor,
    )


def _dashboard_context(
    view: dict[str, Any], a: Assessment, course_list: list[dict[str, Any]], kb: KnowledgeBase
) -> dict[str, Any]:
    return {
        "patient": view,
        "a": a,
        "facts": a.facts,
        "charts": present.charts(a, kb),
        "timeline": present.episode_timeline(view, a, course_list),
        "options": present.options(a, kb),
        "courses": course_list,
        "course_alerts": [
            (c, alert) for c in course_list for alert in c["alerts"] if c["status"] == "active"
        ],
        # read in one transaction: the judged trials are the stored ones, in order
        "trials": list(zip(view["medication_trials"], a.trials, strict=True)),
        "measurements": present.measurement_rows(view, kb),
        "conditions": [kb.conditions[c] for c in view["conditions"] if c in kb.conditions],
        "instruments": list(kb.instruments.values()),
    }
