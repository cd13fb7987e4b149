"""Courses: plan one from a template, the course page (calendar of planned and delivered
sessions, alerts, outcome), recording a session in a few clicks, stopping, iCalendar."""

from __future__ import annotations

from datetime import date, time
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from trdnav.clinic import courses, patients
from trdnav.core import instruments
from trdnav.core.course_templates import CourseTemplate
from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import Conflict, InputError, PreconditionFailed, Problem
from trdnav.web import calendar_grid, forms
from trdnav.web.deps import Reader, WebUser, Writer
from trdnav.web.pages import finish, redirect, render

router = APIRouter(prefix="/app/patients/{patient_id}/courses", include_in_schema=False)

SEVERITIES = ("mild", "moderate", "severe")
WARNED_VERDICTS = ("contraindicated", "caution")
"""Verdicts the course page shows with their reasons, above the calendar."""


def _patient_url(patient_id: str) -> str:
    return f"/app/patients/{quote(patient_id, safe='')}"


def _version(user: WebUser) -> int:
    return forms.patient_version(user.field("version"))


# --- planning --------------------------------------------------------------------------


def _plan_page(
    request: Request,
    user: WebUser,
    patient_id: str,
    values: dict[str, str],
    *,
    treatment: str = "",
    errors: forms.FieldErrors | None = None,
    stale: bool = False,
    status: int = 200,
) -> Response:
    state = user.state
    view, assessment = patients.patient_with_assessment(
        state.store,
        user.actor,
        state.kb,
        patient_id,
        user.today,
        state.settings.adequate_trial_days,
    )
    verdicts = {o.treatment: o for o in assessment.options}
    groups = [
        (verdicts[t.id], [c for c in state.kb.courses.values() if c.treatment == t.id])
        for t in state.kb.treatments.values()
        if any(c.treatment == t.id for c in state.kb.courses.values())
        and (not treatment or t.id == treatment)
    ]
    return render(
        request,
        "course_new.html",
        {
            "patient": view,
            "groups": groups,
            "values": values,
            "treatment": treatment,
            "errors": errors or forms.FieldErrors(),
            "stale": stale,
            "version": values.get("version") or view["version"],
            "needs_review": any(v.verdict != "eligible" for v, _ in groups),
        },
        status=status,
        actor=user.actor,
    )


@router.get("/new")
def new_course(request: Request, patient_id: str, user: Reader, treatment: str = "") -> Response:
    user.actor.require_write()
    known = treatment if treatment in user.state.kb.treatments else ""
    templates = [c for c in user.state.kb.courses.values() if c.treatment == known]
    values = {
        "template": templates[0].id if len(templates) == 1 else "",
        "start": user.today.isoformat(),
        "session_time": "09:00",
    }
    return _plan_page(request, user, patient_id, values, treatment=known)


@router.post("")
def create_course(request: Request, patient_id: str, user: Writer) -> Response:
    user.actor.require_write()
    state = user.state
    values = {k: user.field(k) for k in ("template", "start", "session_time", "version")}
    values["reviewed"] = user.field("reviewed")
    labels = {
        "template": "Course",
        "start": "First day",
        "session_time": "Session time",
        "reviewed": "Review",
    }
    problems: list[Problem] = []
    template = state.kb.courses.get(values["template"])
    if template is None:
        problems.append(Problem("template", values["template"], "a course template to choose"))
    start: date | None = None
    try:
        start = date.fromisoformat(values["start"])
    except ValueError:
        problems.append(Problem("start", values["start"], "a date as YYYY-MM-DD"))
    at: time | None = None
    try:
        at = time.fromisoformat(values["session_time"]) if values["session_time"] else None
    except ValueError:
        problems.append(Problem("session_time", values["session_time"], "a time such as 09:00"))
    if problems:
        errors = forms.place_problems(problems, labels)
        return _plan_page(request, user, patient_id, values, errors=errors, status=422)
    assert template is not None
    assert start is not None
    try:
        view = courses.create_course(
            state.store,
            user.actor,
            state.kb,
            state.settings,
            patient_id,
            template_id=template.id,
            start=start,
            session_time=at,
            if_match=_version(user),
            today=user.today,
            reviewed=bool(values["reviewed"]),
        )
    except PreconditionFailed:
        return _plan_page(request, user, patient_id, values, stale=True, status=412)
    except (InputError, Conflict) as exc:
        # a course of the treatment already running is said at the course chosen
        errors = forms.place_refusal(exc, labels, "template")
        status = 409 if isinstance(exc, Conflict) else 422
        return _plan_page(request, user, patient_id, values, errors=errors, status=status)
    first = view["sessions"][0]
    return redirect(
        request,
        f"{_patient_url(patient_id)}/courses/{view['id']}",
        flash=f"{view['name']} planned: {len(view['sessions'])} sessions from {first['date']}.",
    )


# --- the course page -------------------------------------------------------------------


def _next_session(view: dict[str, Any]) -> dict[str, Any] | None:
    if view["status"] != "active":
        return None
    return next((s for s in view["sessions"] if s["status"] == "planned"), None)


def _effects(kb: KnowledgeBase, template: CourseTemplate) -> list[str]:
    return [s.name for s in kb.treatments[template.treatment].side_effects]


def _due_instruments(session: dict[str, Any] | None) -> list[str]:
    if session is None:
        return []
    return list(dict.fromkeys(d["instrument"] for d in session["due"]))


def _course_page(
    request: Request,
    user: WebUser,
    patient_id: str,
    course_id: int,
    *,
    values: dict[str, str] | None = None,
    errors: forms.FieldErrors | None = None,
    stale: bool = False,
    status: int = 200,
) -> Response:
    state = user.state
    kb = state.kb
    view = courses.get_course(state.store, user.actor, kb, state.settings, patient_id, course_id)
    patient, assessment = patients.patient_with_assessment(
        state.store,
        user.actor,
        kb,
        patient_id,
        user.today,
        state.settings.adequate_trial_days,
    )
    template = kb.courses[view["template"]]
    # the option's verdict for the patient now (a contraindication may have been added since
    # the course was planned): shown when it is not plainly open
    verdict = next((o for o in assessment.options if o.treatment == template.treatment), None)
    if verdict is not None and verdict.verdict not in WARNED_VERDICTS:
        verdict = None
    upcoming = _next_session(view)
    due = _due_instruments(upcoming)
    defaults = {"status": "delivered"}
    if upcoming is not None:
        defaults["delivered_at"] = f"{upcoming['date']}T{upcoming['time']}"
        # the settings of the last delivered session, so a routine session is one click
        last = [s for s in view["sessions"] if s["status"] == "delivered"]
        if last:
            defaults |= {f"parameters.{k}": _text(v) for k, v in last[-1]["parameters"].items()}
    return render(
        request,
        "course.html",
        {
            "patient": patient,
            "course": view,
            "template": template,
            "treatment": kb.treatments[template.treatment],
            "verdict": verdict,
            "measured": _measured(kb, view["measurements"]),
            "months": calendar_grid.months(view["sessions"], view.get("holidays"), user.today),
            "next_session": upcoming,
            "parameters": [kb.parameters[p] for p in template.parameters],
            "effects": _effects(kb, template),
            "severities": SEVERITIES,
            "due": [kb.instruments[i] for i in due],
            "values": values or defaults,
            "errors": errors or forms.FieldErrors(),
            "stale": stale,
            "version": (values or {}).get("version") or patient["version"],
            "base": f"{_patient_url(patient_id)}/courses/{course_id}",
        },
        status=status,
        actor=user.actor,
    )


def _measured(
    kb: KnowledgeBase, measurements: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], int, str]]:
    out = []
    for m in measurements:
        inst = kb.instruments[m["instrument"]]
        total = instruments.total(inst, m["items"])
        out.append((m, total, instruments.severity(inst, total)))
    return out


@router.get("/{course_id}")
def course_page(request: Request, patient_id: str, course_id: int, user: Reader) -> Response:
    return _course_page(request, user, patient_id, course_id)


def _text(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _number(text: str) -> Any:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


def _session_body(
    user: WebUser, template: CourseTemplate, effects: list[str], due: list[str]
) -> tuple[dict[str, Any], list[int], list[int]]:
    """The API's body for a session, with which side effect (index in ``effects``) and which
    due instrument (index in ``due``) each submitted entry came from."""
    body: dict[str, Any] = {"status": user.field("status") or "delivered"}
    if user.field("delivered_at"):
        body["delivered_at"] = user.field("delivered_at")
    parameters = {}
    for key in template.parameters:
        raw = user.field(f"parameters.{key}")
        if raw:
            parameters[key] = raw if key in ("bp_before", "bp_after") else _number(raw)
    if parameters:
        body["parameters"] = parameters
    chosen = []
    effect_index = []
    for index, name in enumerate(effects):
        severity = user.field(f"effect.{index}")
        if severity and severity != "none":
            chosen.append({"name": name, "severity": severity})
            effect_index.append(index)
    if chosen:
        body["side_effects"] = chosen
    taken = []
    measured_index = []
    for index, instrument in enumerate(due):
        answers = [
            user.field(f"measurements[{index}].items[{i}]")
            for i in range(user.state.kb.instruments[instrument].item_count)
        ]
        if any(answers):
            taken.append(
                {
                    "instrument": instrument,
                    "items": [forms.number_or_text(a) for a in answers],
                }
            )
            measured_index.append(index)
    if taken:
        body["measurements"] = taken
    if user.field("note"):
        body["note"] = user.field("note")
    return body, effect_index, measured_index


def _form_path(path: str, effect_index: list[int], measured_index: list[int]) -> str:
    """A problem's path (relative to the body) as the name of the form field it concerns."""
    for prefix, mapping, name in (
        ("side_effects[", effect_index, "effect.{}"),
        ("measurements[", measured_index, "measurements[{}]"),
    ):
        if path.startswith(prefix):
            submitted = int(path[len(prefix) :].split("]")[0])
            rest = path.split("]", 1)[1]
            if submitted < len(mapping):
                field = name.format(mapping[submitted])
                return field if prefix == "side_effects[" else field + rest
    return path


@router.post("/{course_id}/sessions/{number}")
def record_session(
    request: Request, patient_id: str, course_id: int, number: int, user: Writer
) -> Response:
    user.actor.require_write()
    state = user.state
    kb = state.kb
    # the form names its template and the instruments due (to read the fields back); the
    # service checks everything against the course itself
    template = kb.courses.get(user.field("template"))
    if template is None:
        raise InputError([Problem("template", user.field("template"), "the course's template")])
    effects = _effects(kb, template)
    due = [name for name in user.fields("due") if name in kb.instruments]
    body, effect_index, measured_index = _session_body(user, template, effects, due)
    values = {k: v for k, v in (user.form or {}).items() if isinstance(v, str)}
    try:
        courses.record_session(
            state.store,
            user.actor,
            kb,
            state.settings,
            patient_id,
            course_id,
            number,
            body,
            _version(user),
            user.today,
        )
    except PreconditionFailed:
        return _course_page(
            request, user, patient_id, course_id, values=values, stale=True, status=412
        )
    except Conflict as exc:  # recorded already, or an earlier session first: said above
        labels = _session_labels(kb, template, effects, due)
        errors = forms.place_refusal(exc, labels)
        return _course_page(
            request, user, patient_id, course_id, values=values, errors=errors, status=409
        )
    except InputError as exc:
        problems = list(exc.problems)
        mapped = [
            Problem(
                _form_path(p.path, effect_index, measured_index), p.value, p.expected, p.missing
            )
            for p in problems
        ]
        labels = _session_labels(kb, template, effects, due)
        errors = forms.place_problems(mapped, labels)
        return _course_page(
            request, user, patient_id, course_id, values=values, errors=errors, status=422
        )
    flash = f"Session {number} recorded as {body['status']}."
    if body["status"] != "delivered":
        flash += " The sessions still owed were planned again."
    return redirect(request, f"{_patient_url(patient_id)}/courses/{course_id}", flash=flash)


def _session_labels(
    kb: KnowledgeBase, template: CourseTemplate, effects: list[str], due: list[str]
) -> dict[str, str]:
    labels = {"status": "Status", "delivered_at": "Delivered at"}
    labels |= {f"parameters.{p}": kb.parameters[p].label for p in template.parameters}
    labels |= {f"effect.{i}": name for i, name in enumerate(effects)}
    for index, instrument in enumerate(due):
        inst = kb.instruments[instrument]
        labels[f"measurements[{index}].items"] = f"{inst.id} items"
        for i, item in enumerate(inst.items):
            labels[f"measurements[{index}].items[{i}]"] = f"{inst.id} item {item.number}"
    return labels | {"note": "Note"}


@router.post("/{course_id}/stop")
def stop_course(request: Request, patient_id: str, course_id: int, user: Writer) -> Response:
    user.actor.require_write()
    state = user.state
    reason = user.field("reason")
    try:
        courses.stop_course(
            state.store,
            user.actor,
            state.kb,
            patient_id,
            course_id,
            reason,
            _version(user),
            user.today,
            adequate_trial_days=state.settings.adequate_trial_days,
        )
    except PreconditionFailed:
        return _course_page(request, user, patient_id, course_id, stale=True, status=412)
    except (InputError, Conflict) as exc:
        errors = forms.place_refusal(exc, {"reason": "Reason for stopping"}, "reason")
        status = 409 if isinstance(exc, Conflict) else 422
        return _course_page(request, user, patient_id, course_id, errors=errors, status=status)
    return redirect(
        request,
        f"{_patient_url(patient_id)}/courses/{course_id}",
        flash="Course stopped; the sessions still planned were cancelled.",
    )


@router.get("/{course_id}/calendar.ics")
def calendar_file(request: Request, patient_id: str, course_id: int, user: Reader) -> Response:
    data = courses.course_calendar(
        user.state.store, user.actor, user.state.kb, patient_id, course_id
    )
    response = Response(
        data,
        media_type="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="course-{course_id}.ics"'},
    )
    return finish(request, response)
