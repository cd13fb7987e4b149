"""Treatment courses of a patient: plan, read, record sessions, stop, plan history, iCalendar.
Clinic calendar settings (time zone, public holidays, closures, working days)."""

from __future__ import annotations

from datetime import date, time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response, status
from pydantic import BaseModel, Field

from trdnav.api.bodies import Text
from trdnav.api.deps import ActorDep, IfMatchDep, StateDep
from trdnav.clinic import courses

router = APIRouter(tags=["courses"])
CourseId = Annotated[int, Path(ge=1)]
SessionNumber = Annotated[int, Path(ge=1)]


class NewCourse(BaseModel):
    template: str = Field(description="a course template id, e.g. tms-10hz, ect-mwf")
    start: date
    session_time: time | None = Field(default=None, description="local time, default 09:00")
    reviewed: bool = Field(
        default=False,
        description="true when the clinician has reviewed the treatment's verdict for this "
        "patient; required unless the verdict is eligible (a contraindication, caution, "
        "not-yet or research-only verdict is refused with its reasons otherwise)",
    )


@router.get("/courses/templates", summary="The course templates of the knowledge base")
def templates(actor: ActorDep, state: StateDep) -> list[dict[str, Any]]:
    return [t.model_dump(mode="json") for t in state.kb.courses.values()]


@router.get("/patients/{patient_id}/courses", summary="A patient's courses")
def list_courses(patient_id: str, actor: ActorDep, state: StateDep) -> list[dict[str, Any]]:
    return courses.list_courses(state.store, actor, state.kb, patient_id)


def _etag(response: Response, view: dict[str, Any]) -> dict[str, Any]:
    """The patient's new version: course changes are changes to the patient."""
    response.headers["ETag"] = f'"{view["patient_version"]}"'
    return view


@router.post(
    "/patients/{patient_id}/courses",
    status_code=status.HTTP_201_CREATED,
    summary="Plan a course from a template (needs the patient's If-Match)",
)
def create_course(
    patient_id: str,
    body: NewCourse,
    actor: ActorDep,
    state: StateDep,
    version: IfMatchDep,
    response: Response,
) -> dict[str, Any]:
    view = courses.create_course(
        state.store,
        actor,
        state.kb,
        state.settings,
        patient_id,
        template_id=body.template,
        start=body.start,
        session_time=body.session_time,
        if_match=version,
        today=state.today(actor),
        reviewed=body.reviewed,
    )
    response.headers["Location"] = f"/patients/{patient_id}/courses/{view['id']}"
    return _etag(response, view)


@router.get(
    "/patients/{patient_id}/courses/{course_id}",
    summary="A course: sessions, measurement points, alerts, outcome",
)
def read_course(
    patient_id: str, course_id: CourseId, actor: ActorDep, state: StateDep
) -> dict[str, Any]:
    return courses.get_course(state.store, actor, state.kb, state.settings, patient_id, course_id)


SESSION_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "status": {"enum": ["delivered", "missed", "cancelled"]},
                        "delivered_at": {
                            "type": "string",
                            "description": "date-time, default the planned time",
                        },
                        "parameters": {"type": "object"},
                        "side_effects": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string"},
                                    "severity": {"enum": ["mild", "moderate", "severe"]},
                                },
                            },
                        },
                        "measurements": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "instrument": {"type": "string"},
                                    "items": {"type": "array", "items": {"type": "integer"}},
                                },
                            },
                        },
                        "note": {"type": "string"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/patients/{patient_id}/courses/{course_id}/sessions/{number}",
    openapi_extra=SESSION_BODY,
    summary="Record a session: delivered (with parameters, side effects, "
    "measurements), missed or cancelled",
)
def record_session(
    patient_id: str,
    course_id: CourseId,
    number: SessionNumber,
    body: Annotated[dict[str, Any], Body()],
    actor: ActorDep,
    state: StateDep,
    version: IfMatchDep,
    response: Response,
) -> dict[str, Any]:
    view = courses.record_session(
        state.store,
        actor,
        state.kb,
        state.settings,
        patient_id,
        course_id,
        number,
        body,
        version,
        state.today(actor),
    )
    return _etag(response, view)


class StopCourse(BaseModel):
    reason: Text = Field(min_length=1, max_length=500)


@router.post(
    "/patients/{patient_id}/courses/{course_id}/stop",
    summary="Stop a course early; the remaining sessions are cancelled",
)
def stop_course(
    patient_id: str,
    course_id: CourseId,
    body: StopCourse,
    actor: ActorDep,
    state: StateDep,
    version: IfMatchDep,
    response: Response,
) -> dict[str, Any]:
    view = courses.stop_course(
        state.store,
        actor,
        state.kb,
        patient_id,
        course_id,
        body.reason,
        version,
        state.today(actor),
        adequate_trial_days=state.settings.adequate_trial_days,
    )
    return _etag(response, view)


@router.get(
    "/patients/{patient_id}/courses/{course_id}/plans", summary="Every version of the course's plan"
)
def plans(
    patient_id: str, course_id: CourseId, actor: ActorDep, state: StateDep
) -> list[dict[str, Any]]:
    return courses.plan_history(state.store, actor, patient_id, course_id)


@router.get(
    "/patients/{patient_id}/courses/{course_id}/calendar.ics",
    summary="The course as iCalendar (one event per session; stable UIDs)",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}},
)
def calendar(patient_id: str, course_id: CourseId, actor: ActorDep, state: StateDep) -> Response:
    data = courses.course_calendar(state.store, actor, state.kb, patient_id, course_id)
    return Response(
        data,
        media_type="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="course-{course_id}.ics"'},
    )


class ClinicSettings(BaseModel):
    model_config = {"extra": "allow"}
    timezone: str | None = None
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    closures: list[str] | None = None
    working_days: list[str] | None = None


@router.get("/clinic/settings", summary="The clinic's calendar settings")
def read_settings(actor: ActorDep, state: StateDep) -> dict[str, Any]:
    return courses.clinic_settings(state.store, actor, state.settings)


@router.patch("/clinic/settings", summary="Change the clinic's calendar settings (admins)")
def change_settings(body: ClinicSettings, actor: ActorDep, state: StateDep) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    return courses.update_clinic_settings(state.store, actor, state.settings, state.kb, changes)


@router.get(
    "/clinic/replanned-courses",
    summary="Courses planned again after calendar changes closed their days (admins)",
)
def replanned_courses(
    actor: ActorDep,
    state: StateDep,
    days: Annotated[int, Query(ge=1, le=366, description="how many days back")] = (
        courses.REPLAN_DAYS
    ),
) -> list[dict[str, Any]]:
    """Newest first: when (the clinic's time zone), patient, course, the days closed and the
    sessions moved (each ``number``, ``from`` and ``to``): the patients to tell."""
    return courses.replanned_courses(state.store, actor, state.settings, days=days)
