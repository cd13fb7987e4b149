"""Printable reports: the clinician summary and the patient handout, as HTML and as PDF.

Both are built from the same data as the patient page (staging, charts, options with the
knowledge base's plain-language text) and state that trdnav is not a medical device. The
PDF is the same HTML rendered by WeasyPrint, with its styles inline.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from trdnav.clinic import courses, patients
from trdnav.errors import NotFound
from trdnav.web import present
from trdnav.web.deps import Reader, WebUser
from trdnav.web.pages import STATIC, finish, render, render_text
from trdnav.web.pdf import html_to_pdf

router = APIRouter(prefix="/app/patients/{patient_id}/report", include_in_schema=False)

REPORTS = {"summary": "Clinician summary", "handout": "Patient handout"}


def _context(user: WebUser, patient_id: str, kind: str, fmt: str) -> dict[str, Any]:
    if kind not in REPORTS:
        raise NotFound(f"no report {kind!r}")
    state = user.state
    kb = state.kb
    view, a = patients.patient_with_assessment(
        state.store,
        user.actor,
        kb,
        patient_id,
        user.today,
        state.settings.adequate_trial_days,
        purpose=f"report.{kind}.{fmt}",
    )
    course_list = courses.list_courses(state.store, user.actor, kb, patient_id)
    options = present.options(a, kb)
    references: dict[str, int] = {}
    for o in options:
        for source in o.verdict.sources:
            references.setdefault(source, len(references) + 1)
    return {
        "kind": kind,
        "title": REPORTS[kind],
        "patient": view,
        "a": a,
        "facts": a.facts,
        "charts": present.charts(a, kb, prefix=f"{kind}-chart"),
        "timeline": present.episode_timeline(view, a, course_list, chart_id=f"{kind}-timeline"),
        "options": options,
        "open_options": [o for o in options if o.is_open],
        "references": references,
        "links": {ref: present.source_link(ref) for ref in references},
        "conditions": kb.conditions,
        "courses": course_list,
        "trials": list(zip(view["medication_trials"], a.trials, strict=False)),
        "knowledge_version": a.knowledge_version,
        "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "author": user.actor.email,
        "base": f"/app/patients/{quote(patient_id, safe='')}",
        "pdf": fmt == "pdf",
    }


@router.get("/{kind}.pdf")
def report_pdf(request: Request, patient_id: str, kind: str, user: Reader) -> Response:
    context = _context(user, patient_id, kind, "pdf")
    css = (STATIC / "report.css").read_text(encoding="utf-8")
    html = render_text(request, f"report_{kind}.html", context | {"inline_css": css})
    name = f"trdnav-{kind}-{context['patient']['id']}.pdf"
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    response = Response(
        html_to_pdf(html),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )
    return finish(request, response)


@router.get("/{kind}")
def report_page(request: Request, patient_id: str, kind: str, user: Reader) -> Response:
    context = _context(user, patient_id, kind, "html")
    return render(request, f"report_{kind}.html", context | {"inline_css": None}, actor=user.actor)
