"""Treatment courses: plan from a template, record sessions, re-plan, alert, write back.

A course belongs to a patient and changes the patient's history (its procedure or
psychotherapy record, and the measurements taken at sessions), so every change checks and
bumps the patient's version (If-Match) like any other change to the patient, and is audited
in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session, selectinload

from trdnav.clinic import audit
from trdnav.clinic.actor import Actor
from trdnav.clinic.calendars import ClinicCalendar, course_ical, validate_clinic_settings
from trdnav.clinic.patients import bump_version, load_patient, revalidate, summarise
from trdnav.core.assessment import assess
from trdnav.core.course_rules import (
    CourseMeasurement,
    GivenSession,
    RecordedSession,
    check_session,
    check_spacing,
    course_alerts,
    course_outcome,
)
from trdnav.core.course_templates import CourseTemplate
from trdnav.core.dates import age_in_years
from trdnav.core.intake import stored_history
from trdnav.core.knowledge import KnowledgeBase
from trdnav.core.scheduling import (
    Slot,
    Taken,
    WorkCalendar,
    assign_measurements,
    plan,
    replan,
)
from trdnav.errors import Conflict, InputError, NotFound, Problem
from trdnav.settings import Settings
from trdnav.store import history_rows
from trdnav.store.database import Store
from trdnav.store.history_rows import ITEM_KINDS
from trdnav.store.tables import (
    PLAN_REASON_LENGTH,
    AuditEvent,
    Clinic,
    Course,
    CoursePlan,
    CourseSession,
    Measurement,
    Patient,
    Procedure,
    PsychotherapyCourse,
    utcnow,
)

__all__ = [
    "REPLAN_DAYS",
    "clinic_settings",
    "course_calendar",
    "create_course",
    "get_course",
    "list_courses",
    "plan_history",
    "record_session",
    "replanned_courses",
    "stop_course",
    "update_clinic_settings",
]

PROCEDURE_TYPES = {
    "tms": "TMS",
    "ect": "ECT",
    "esketamine": "esketamine",
    "ketamine": "ketamine",
    "vns": "VNS",
    "dbs": "DBS",
}
STATUSES = ("delivered", "missed", "cancelled")
CALENDAR_FIELDS = ("closures", "working_days", "holiday_country", "holiday_subdivision")
"""The clinic settings that can close a day, in the order a problem names them."""
CLOCK_TOLERANCE = timedelta(minutes=5)
"""How far after the server's clock a delivery time may be: the clock of the device it was
entered on may run a little ahead."""


# --- clinic calendar settings ---------------------------------------------------------


def _clinic(session: Session, actor: Actor) -> Clinic:
    clinic = session.get(Clinic, actor.clinic_id)
    assert clinic is not None
    return clinic


def clinic_settings(store: Store, actor: Actor, settings: Settings) -> dict[str, Any]:
    with store.reading() as session:
        clinic = _clinic(session, actor)
        return {"name": clinic.name, **ClinicCalendar(clinic.settings or {}, settings).as_dict()}


def update_clinic_settings(
    store: Store, actor: Actor, settings: Settings, kb: KnowledgeBase, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change the clinic's calendar settings. Sessions still planned on a day the new
    calendar closes are planned again (``replanned`` in the answer lists them by course);
    when one cannot be, nothing changes."""
    actor.require_admin()
    clean = validate_clinic_settings(changes)
    with store.transaction() as session:
        clinic = _clinic(session, actor)
        clinic.settings = {**(clinic.settings or {}), **clean}
        calendar = ClinicCalendar(clinic.settings, settings)
        replanned = _replan_closed_days(session, actor, kb, calendar, sorted(clean))
        audit.record(
            session,
            actor,
            "clinic.settings",
            detail={"fields": sorted(clean), "replanned_courses": len(replanned)},
        )
        return {"name": clinic.name, **calendar.as_dict(), "replanned": replanned}


REPLAN_DAYS = 30
"""How far back :func:`replanned_courses` looks."""


def replanned_courses(
    store: Store, actor: Actor, settings: Settings, *, days: int = REPLAN_DAYS
) -> list[dict[str, Any]]:
    """The courses planned again in the last ``days`` days because a change to the clinic's
    calendar closed days they had sessions on, newest first: the patients to tell of their
    new dates (administrators). Each names when (in the clinic's time zone), the patient, the
    course, the days closed and the sessions moved (none listed for a re-plan recorded
    before the moves were kept with it: the course's plan history has them)."""
    actor.require_admin()
    since = utcnow() - timedelta(days=days)
    with store.transaction() as session:
        zone = ZoneInfo(_calendar(session, actor, settings).timezone)
        rows = session.execute(
            select(AuditEvent, Course)
            .join(Course, AuditEvent.resource == "courses/" + cast(Course.id, String))
            .join(Patient, Patient.pk == Course.patient_pk)
            .where(
                AuditEvent.clinic_id == actor.clinic_id,
                AuditEvent.action == "course.replan",
                AuditEvent.at >= since,
                Patient.clinic_id == actor.clinic_id,
                Patient.deleted_at.is_(None),
            )
            .order_by(AuditEvent.id.desc())
        ).all()
        found = [
            {
                "at": event.at.astimezone(zone).isoformat(timespec="minutes"),
                "patient_id": event.patient_id,
                "course_id": course.id,
                "template": course.template_id,
                "status": course.status,
                "closed": list((event.detail or {}).get("closed", [])),
                "sessions": list((event.detail or {}).get("sessions", [])),
            }
            for event, course in rows
        ]
        audit.record(session, actor, "course.replans", detail={"returned": len(found)})
    return found


# --- helpers --------------------------------------------------------------------------


def _template(kb: KnowledgeBase, template_id: str) -> CourseTemplate:
    try:
        return kb.courses[template_id]
    except KeyError:
        raise InputError(
            [Problem("template", template_id, "one of " + ", ".join(kb.courses))]
        ) from None


MAX_ROW_ID = 2**31 - 1
"""The largest id a row can have (a 32-bit column); a larger one is no course's, and asking
the database about it would overflow its integers."""


def _course(session: Session, patient: Patient, course_id: int) -> Course:
    course = None
    if 1 <= course_id <= MAX_ROW_ID:
        course = session.scalars(
            select(Course)
            .where(Course.id == course_id, Course.patient_pk == patient.pk)
            .options(selectinload(Course.sessions))
        ).first()
    if course is None:
        raise NotFound(f"no course {course_id} for patient {patient.id!r}")
    return course


def _calendar(session: Session, actor: Actor, settings: Settings) -> ClinicCalendar:
    return ClinicCalendar(_clinic(session, actor).settings or {}, settings)


def _plan_reason(text: str) -> str:
    """``text`` as a plan's reason: cut, ending in "…", when longer than one is kept. A reason
    is a label of the version; what it names (a stop reason, the days closed) is kept whole
    where it belongs (the course, the audit log, the answer to the change)."""
    if len(text) <= PLAN_REASON_LENGTH:
        return text
    return text[: PLAN_REASON_LENGTH - 1].rstrip() + "…"


def _closed_days_reason(closed: Sequence[date]) -> str:
    """The reason of a re-plan for days closed: the days, or as many as a reason holds and
    how many more."""
    head = "clinic calendar changed: closed on "
    days = [d.isoformat() for d in closed]
    shown = len(days)
    text = head + ", ".join(days)
    while len(text) > PLAN_REASON_LENGTH and shown > 1:
        shown -= 1
        text = f"{head}{', '.join(days[:shown])} and {len(days) - shown} more"
    return _plan_reason(text)


def _snapshot(course: Course, reason: str) -> CoursePlan:
    return CoursePlan(
        course_id=course.id,
        version=course.plan_version,
        reason=_plan_reason(reason),
        sessions=[
            {
                "number": s.number,
                "date": s.planned_date.isoformat(),
                "time": s.planned_time.isoformat(timespec="minutes"),
                "minutes": s.minutes,
                "phase": s.phase_name,
                "status": s.status,
            }
            for s in sorted(course.sessions, key=lambda s: s.number)
        ],
    )


def _rows(course: Course, slots: list[Slot]) -> list[CourseSession]:
    return [
        CourseSession(
            course_id=course.id,
            number=s.number,
            planned_date=s.date,
            planned_time=s.time,
            minutes=s.minutes,
            phase=s.phase,
            phase_name=s.phase_name,
            status="planned",
        )
        for s in slots
    ]


def _measurements(patient: Patient, course: Course) -> list[CourseMeasurement]:
    out = []
    for m in patient.measurements:
        tag = (m.extra or {}).get("course")
        if m.removed_at is None and tag == course.uid:
            out.append(
                CourseMeasurement(
                    session=int(m.extra.get("session", 0)),
                    date=m.date,
                    instrument=m.instrument,
                    items=tuple(m.items),
                )
            )
    return sorted(out, key=lambda m: (m.session, m.date))


def _local_day(course: Course, when: datetime) -> date:
    """The calendar day of ``when`` (stored in UTC) where the course is given."""
    return when.astimezone(ZoneInfo(course.timezone)).date()


def _day_of(course: Course, s: CourseSession) -> date:
    """A session's day: the local day it was delivered, else its planned day."""
    return _local_day(course, s.delivered_at) if s.delivered_at else s.planned_date


def _given(course: Course, s: CourseSession, when: datetime) -> GivenSession:
    local = when.astimezone(ZoneInfo(course.timezone))
    return GivenSession(
        number=s.number, start=local, day=local.date(), minutes=s.minutes, phase=s.phase
    )


def _delivered(course: Course) -> list[GivenSession]:
    """The course's delivered sessions, as their spacing sees them."""
    return [
        _given(course, s, s.delivered_at)
        for s in course.sessions
        if s.status == "delivered" and s.delivered_at is not None
    ]


def _recorded(course: Course) -> list[RecordedSession]:
    return [
        RecordedSession(
            number=s.number,
            date=_day_of(course, s),
            status=s.status,
            parameters=s.parameters or {},
            side_effects=s.side_effects or [],
            phase=s.phase,
        )
        for s in course.sessions
        if s.status != "planned"
    ]


def _history_item(patient: Patient, course: Course) -> Procedure | PsychotherapyCourse:
    kind = next(k for k in ITEM_KINDS.values() if k.section == course.history_section)
    for row in getattr(patient, kind.section):
        if row.id == course.history_item_id:
            return row  # type: ignore[no-any-return]
    raise NotFound(f"the history record of course {course.id} is missing")


def _write_back(
    patient: Patient, course: Course, template: CourseTemplate, kb: KnowledgeBase
) -> None:
    """Course outcome into the patient's history (rule ``course.outcome``)."""
    item = _history_item(patient, course)
    delivered = [s for s in course.sessions if s.status == "delivered"]
    item.sessions = len(delivered)
    if delivered:
        first = min(s.delivered_at for s in delivered if s.delivered_at is not None)
        item.start = min(_local_day(course, first), item.start)
    if course.status != "active":
        ends = [_local_day(course, s.delivered_at) for s in delivered if s.delivered_at]
        item.end = max(ends) if ends else item.start
    if isinstance(item, Procedure):
        item.response = course_outcome(template, kb, _measurements(patient, course))
    item.updated_at = utcnow()


def _resummarise(
    session: Session,
    patient: Patient,
    kb: KnowledgeBase,
    today: date,
    adequate_trial_days: int | None,
) -> None:
    session.flush()
    session.refresh(patient)
    history = stored_history(history_rows.document(patient, today), kb)
    summarise(patient, history, kb, today, adequate_trial_days)


def course_view(
    patient: Patient, course: Course, kb: KnowledgeBase, calendar: ClinicCalendar | None = None
) -> dict[str, Any]:
    template = kb.courses[course.template_id]
    ordered = sorted(course.sessions, key=lambda s: s.number)
    counting = [
        (s.number, _day_of(course, s)) for s in ordered if s.status in ("planned", "delivered")
    ]
    due = assign_measurements(template, counting)
    measurements = _measurements(patient, course)
    sessions = [
        {
            "number": s.number,
            "date": s.planned_date.isoformat(),
            "time": s.planned_time.isoformat(timespec="minutes"),
            "minutes": s.minutes,
            "phase": s.phase_name,
            "status": s.status,
            "delivered_at": s.delivered_at.isoformat() if s.delivered_at else None,
            "parameters": s.parameters or {},
            "side_effects": s.side_effects or [],
            "note": s.note,
            "due": [d.model_dump() for d in due.get(s.number, [])],
        }
        for s in ordered
    ]
    alerts = course_alerts(template, kb, _recorded(course), measurements)
    view: dict[str, Any] = {
        "id": course.id,
        "patient_version": patient.version,
        "uid": course.uid,
        "template": template.id,
        "name": template.name,
        "treatment": template.treatment,
        "status": course.status,
        "start": course.start_date.isoformat(),
        "session_time": course.session_time.isoformat(timespec="minutes"),
        "timezone": course.timezone,
        "plan_version": course.plan_version,
        "instrument": template.instrument,
        "outcome": course_outcome(template, kb, measurements),
        "delivered": sum(1 for s in ordered if s.status == "delivered"),
        "planned": sum(1 for s in ordered if s.status == "planned"),
        "alerts": [a.model_dump() for a in alerts],
        "sessions": sessions,
        "measurements": [m.model_dump(mode="json") for m in measurements],
        "stop_reason": course.stop_reason,
        "history_record": {"section": course.history_section, "item_id": course.history_item_id},
        "sources": kb.cite(template.sources),
    }
    if calendar is not None:
        closed = calendar.holidays_between(course.start_date, max(s.planned_date for s in ordered))
        view["holidays"] = {d.isoformat(): name for d, name in sorted(closed.items())}
    return view


# --- use cases ------------------------------------------------------------------------


REVIEWED = "reviewed"
"""Where the missing review of a verdict is reported (a form's tick, the API's field)."""


def _require_review(
    patient: Patient,
    kb: KnowledgeBase,
    template: CourseTemplate,
    today: date,
    adequate_trial_days: int | None,
) -> None:
    history = stored_history(history_rows.document(patient, today), kb)
    result = assess(history, kb, adequate_trial_days=adequate_trial_days)
    verdict = next(o for o in result.options if o.treatment == template.treatment)
    if verdict.verdict == "eligible":
        return
    raise InputError(
        [
            Problem(
                REVIEWED,
                None,
                f"confirmation that you have reviewed its reasons: {verdict.name} is "
                f"'{verdict.verdict.replace('_', ' ')}' for this patient ("
                + "; ".join(verdict.reasons)
                + ")",
                missing=True,
            )
        ]
    )


def create_course(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    settings: Settings,
    patient_id: str,
    *,
    template_id: str,
    start: date,
    session_time: time | None,
    if_match: int | None,
    today: date,
    reviewed: bool = False,
) -> dict[str, Any]:
    """Plan a course from a template and add its record to the patient's history. A course
    of a treatment that is not plainly eligible for the patient today (contraindicated, a
    caution, not yet open, research only) needs ``reviewed``: the clinician confirms having
    read the verdict's reasons, which the refusal lists."""
    actor.require_write()
    template = _template(kb, template_id)
    at = session_time or time(9, 0)
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id)
        bump_version(session, patient, if_match)  # the version first: 428 and 412 as usual
        onset = history_rows.current_episode(patient).onset
        if start < onset:
            # a course treats the current episode; an earlier start (a year mistyped)
            # would plan sessions nothing counts
            expected = f"a date on or after the episode onset ({onset.isoformat()})"
            raise InputError([Problem("start", start.isoformat(), expected)])
        running = session.scalars(
            select(Course.id).where(
                Course.patient_pk == patient.pk,
                Course.treatment == template.treatment,
                Course.status == "active",
            )
        ).first()
        if running is not None:
            raise Conflict(
                f"course {running} of {template.treatment} is active for this patient: "
                "stop it before planning another course of the same treatment"
            )
        if not reviewed:
            _require_review(patient, kb, template, today, settings.adequate_trial_days)
        calendar = _calendar(session, actor, settings)
        slots = plan(template, start, at, calendar.work_calendar(start))
        first = slots[0].date
        if template.treatment == "psychotherapy":
            section = "psychotherapy"
            record: Procedure | PsychotherapyCourse = PsychotherapyCourse(
                type="CBT",
                start=first,
                end=None,
                sessions=0,
                extra={"course_template": template.id},
            )
        else:
            section = "procedures"
            record = Procedure(
                type=PROCEDURE_TYPES[template.treatment],
                start=first,
                end=None,
                sessions=0,
                response="unknown",
                extra={"course_template": template.id},
            )
        getattr(patient, section).append(record)
        session.flush()
        course = Course(
            patient_pk=patient.pk,
            uid=str(uuid.uuid4()),
            template_id=template.id,
            treatment=template.treatment,
            status="active",
            start_date=start,
            session_time=at,
            timezone=calendar.timezone,
            calendar=calendar.as_dict(),
            plan_version=1,
            history_section=section,
            history_item_id=record.id,
        )
        session.add(course)
        session.flush()
        course.sessions = _rows(course, slots)
        session.flush()
        session.add(_snapshot(course, "planned"))
        record.extra = {**record.extra, "course": course.uid}
        _resummarise(session, patient, kb, today, settings.adequate_trial_days)
        audit.record(
            session,
            actor,
            "course.create",
            patient_id=patient.id,
            resource=f"courses/{course.id}",
            detail={"template": template.id},
        )
        return course_view(patient, course, kb, calendar)


def _dates(sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """The last session's date and the next planned session, for summaries."""
    planned = [s for s in sessions if s["status"] == "planned"]
    return {
        "last_session": sessions[-1]["date"] if sessions else None,
        "next_session": None
        if not planned
        else {k: planned[0][k] for k in ("number", "date", "time")},
    }


def list_courses(
    store: Store, actor: Actor, kb: KnowledgeBase, patient_id: str
) -> list[dict[str, Any]]:
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id)
        courses = session.scalars(
            select(Course)
            .where(Course.patient_pk == patient.pk)
            .options(selectinload(Course.sessions))
            .order_by(Course.id)
        )
        out = []
        for course in courses:
            view = course_view(patient, course, kb)
            out.append(
                {
                    k: view[k]
                    for k in (
                        "id",
                        "template",
                        "name",
                        "treatment",
                        "status",
                        "start",
                        "plan_version",
                        "outcome",
                        "delivered",
                        "planned",
                        "alerts",
                    )
                }
                | _dates(view["sessions"])
            )
        audit.record(session, actor, "course.list", patient_id=patient.id)
        return out


def get_course(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    settings: Settings,
    patient_id: str,
    course_id: int,
) -> dict[str, Any]:
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id)
        course = _course(session, patient, course_id)
        audit.record(
            session, actor, "course.read", patient_id=patient.id, resource=f"courses/{course.id}"
        )
        return course_view(patient, course, kb, _calendar(session, actor, settings))


def _parse_when(value: Any, course: Course, row: CourseSession) -> datetime:
    zone = ZoneInfo(course.timezone)
    expected = "a date-time such as 2026-01-05T09:00"
    try:
        if value is None:
            when = datetime.combine(row.planned_date, row.planned_time, tzinfo=zone)
        else:
            when = datetime.fromisoformat(str(value))
            when = when if when.tzinfo else when.replace(tzinfo=zone)
        # kept in UTC and shown where the course is given: both must be in the calendar
        when.astimezone(UTC)
        when.astimezone(zone)
    except ValueError:
        raise InputError([Problem("delivered_at", value, expected)]) from None
    except OverflowError:
        expected = f"{expected}, from the course start ({course.start_date.isoformat()}) to today"
        raise InputError([Problem("delivered_at", value, expected)]) from None
    return when


def record_session(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    settings: Settings,
    patient_id: str,
    course_id: int,
    number: int,
    body: dict[str, Any],
    if_match: int | None,
    today: date,
    given_problems: Sequence[Problem] = (),
) -> dict[str, Any]:
    """Record session ``number`` as delivered, missed or cancelled.

    Delivered: its parameters, side effects and the measurements taken are validated and
    stored, and the course outcome is written back to the history. Missed or cancelled: the
    sessions still owed are planned again (rule ``course.missed_session``).
    ``given_problems`` are problems the caller found reading its input (a command's options):
    they are listed first with the session's own, and nothing is stored.
    """
    actor.require_write()
    unknown = [
        k
        for k in body
        if k not in ("status", "delivered_at", "parameters", "side_effects", "measurements", "note")
    ]
    if unknown:
        raise InputError(
            [
                Problem(
                    k,
                    body[k],
                    "status, delivered_at, parameters, side_effects, measurements or note",
                )
                for k in unknown
            ]
        )
    status = body.get("status", "delivered")
    if status not in STATUSES:
        raise InputError([Problem("status", status, "delivered, missed or cancelled")])
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id)
        course = _course(session, patient, course_id)
        template = kb.courses[course.template_id]
        if course.status != "active":
            raise Conflict(f"course {course.id} is {course.status}; it takes no more sessions")
        row = next((s for s in course.sessions if s.number == number), None)
        if row is None:
            raise NotFound(f"course {course.id} has no session {number}")
        if row.status != "planned":
            raise Conflict(f"session {number} is recorded already ({row.status})")
        earlier = [s.number for s in course.sessions if s.number < number and s.status == "planned"]
        if earlier:
            raise Conflict(f"record session {earlier[0]} before session {number}")
        when = _parse_when(body.get("delivered_at"), course, row)
        problems: list[Problem] = list(given_problems)
        local_day = _local_day(course, when)
        if local_day < course.start_date:
            problems.append(
                Problem(
                    "delivered_at",
                    when.isoformat(),
                    f"a time on or after the course start ({course.start_date.isoformat()})",
                )
            )
        # today where the course is given, which need not be the server's
        now = utcnow()
        course_today = now.astimezone(ZoneInfo(course.timezone)).date()
        if status == "delivered" and local_day > course_today:
            problems.append(
                Problem(
                    "delivered_at",
                    when.isoformat(),
                    f"a time on or before today ({course_today.isoformat()}, {course.timezone})",
                )
            )
        elif status == "delivered" and when > now + CLOCK_TOLERANCE:
            clock = now.astimezone(when.tzinfo).isoformat(timespec="minutes")
            planned = body.get("delivered_at") is None
            problems.append(
                Problem(
                    "delivered_at",
                    when.isoformat(),
                    f"a time not after now ({clock})"
                    + (": none was given and the session is planned later today" * planned),
                )
            )
        if status == "delivered":
            spacing = check_spacing(template, _given(course, row, when), _delivered(course))
            if spacing is not None:
                problems.append(spacing)
        parameters = body.get("parameters") or {}
        effects = body.get("side_effects") or []
        if not isinstance(parameters, dict):
            problems.append(Problem("parameters", parameters, "an object"))
            parameters = {}
        if not isinstance(effects, list) or not all(isinstance(e, dict) for e in effects):
            problems.append(Problem("side_effects", effects, "a list of {name, severity} objects"))
            effects = []
        first_dose = status == "delivered" and not any(
            s.status == "delivered" for s in course.sessions
        )
        age = age_in_years(patient.birth_date, local_day)
        found, named = check_session(
            template,
            kb,
            parameters,
            effects,
            age=age,
            first_dose=first_dose,
            delivered=status == "delivered",
        )
        problems += found
        if status != "delivered" and (parameters or effects or body.get("measurements")):
            problems.append(
                Problem(
                    "status",
                    status,
                    "delivered, to record parameters, side effects or measurements",
                )
            )
        measured = body.get("measurements") or []
        doc = history_rows.document(patient, today)
        first_new = len(doc["measurements"])
        if not isinstance(measured, list):
            problems.append(Problem("measurements", measured, "a list"))
            measured = []
        for m in measured:
            doc["measurements"].append(
                {**m, "date": local_day.isoformat()} if isinstance(m, dict) else m
            )
        history = None
        try:
            added = [f"measurements[{i}]" for i in range(first_new, len(doc["measurements"]))]
            history = revalidate(kb, doc, changed=added)
        except InputError as exc:
            head = "measurements["
            for p in exc.problems:
                if p.path.startswith(head):
                    index = int(p.path[len(head) :].split("]")[0]) - first_new
                    rest = p.path.split("]", 1)[1]
                    problems.append(
                        Problem(f"measurements[{index}]{rest}", p.value, p.expected, p.missing)
                    )
                else:
                    problems.append(p)
        if problems:
            raise InputError(problems)
        assert history is not None
        bump_version(session, patient, if_match)
        row.status = status
        row.recorded_at = utcnow()
        row.note = body.get("note")
        if status == "delivered":
            row.delivered_at = when
            row.parameters = parameters
            row.side_effects = named
            ids = []
            for record in history.measurements[first_new:]:
                values = history_rows.item_values(ITEM_KINDS["measurements"], record)
                values["extra"] = {**values["extra"], "course": course.uid, "session": number}
                measurement = Measurement(**values)
                patient.measurements.append(measurement)
                session.flush()
                ids.append(measurement.id)
            row.measurement_ids = ids
            overtaken = [
                s for s in course.sessions if s.status == "planned" and s.planned_date <= local_day
            ]
            if overtaken:  # delivered late: the sessions still owed follow it
                calendar = _calendar(session, actor, settings)
                _shift(session, course, template, row, calendar, after=local_day)
        else:
            _shift(session, course, template, row, _calendar(session, actor, settings))
        if all(s.status != "planned" for s in course.sessions):
            course.status = "completed"
        course.updated_at = utcnow()
        _write_back(patient, course, template, kb)
        _resummarise(session, patient, kb, today, settings.adequate_trial_days)
        audit.record(
            session,
            actor,
            "course.session",
            patient_id=patient.id,
            resource=f"courses/{course.id}/sessions/{number}",
            detail={"status": status},
        )
        return course_view(patient, course, kb)


def _replan_owed(
    session: Session,
    course: Course,
    template: CourseTemplate,
    work: WorkCalendar,
    resume: date,
    reason: str,
) -> None:
    """Plan the sessions still owed again from ``resume`` on ``work`` (rule
    ``course.missed_session``: delivered and recorded sessions never move), and keep the
    new plan with ``reason``. Raises InputError when they find no open day."""
    taken = [
        Taken(
            number=s.number,
            date=_day_of(course, s),
            phase=s.phase,
            delivered=s.status == "delivered",
        )
        for s in course.sessions
        if s.status != "planned"
    ]
    slots = replan(template, course.start_date, course.session_time, work, taken, resume)
    for s in [s for s in course.sessions if s.status == "planned"]:
        course.sessions.remove(s)
        session.delete(s)
    session.flush()
    course.sessions.extend(_rows(course, slots))
    course.plan_version += 1
    session.flush()
    session.add(_snapshot(course, reason))


def _shift(
    session: Session,
    course: Course,
    template: CourseTemplate,
    row: CourseSession,
    calendar: ClinicCalendar,
    *,
    after: date | None = None,
) -> None:
    """Re-plan the sessions still owed from the day after a missed or cancelled one, or
    after ``after`` (the day a session was delivered later than planned)."""
    resume = (after or row.planned_date) + timedelta(days=1)
    late = " late" if after is not None else ""
    try:
        _replan_owed(
            session,
            course,
            template,
            calendar.work_calendar(course.start_date),
            resume,
            f"session {row.number} {row.status}{late}",
        )
    except InputError as exc:  # the sessions still owed find no open day: say so here
        raise InputError(
            [
                Problem(
                    "delivered_at" if after is not None else "status",
                    after.isoformat() if after is not None else row.status,
                    "a session after which the sessions still owed can be planned again "
                    f"from {resume.isoformat()} on the clinic's calendar (its working days, "
                    f"closures and holidays): {p.expected}",
                )
                for p in exc.problems
            ]
        ) from None


def _replan_closed_days(
    session: Session,
    actor: Actor,
    kb: KnowledgeBase,
    calendar: ClinicCalendar,
    changed: Sequence[str],
) -> list[dict[str, Any]]:
    """Re-plan every active course of the clinic with a session planned on a day the new
    ``calendar`` closes (a closure, a holiday, a day no longer worked): its sessions still
    owed are planned again from the first of them, as a missed session's are. Returns what
    moved, by course. Each patient's version is taken, as for any change to a course."""
    courses = session.scalars(
        select(Course)
        .join(Patient, Course.patient_pk == Patient.pk)
        .where(
            Patient.clinic_id == actor.clinic_id,
            Patient.deleted_at.is_(None),
            Course.status == "active",
        )
        .options(selectinload(Course.sessions))
        .order_by(Course.id)
    ).all()
    moved: list[dict[str, Any]] = []
    for course in courses:
        planned = sorted((s for s in course.sessions if s.status == "planned"), key=_number)
        work = calendar.work_calendar(course.start_date)
        closed = sorted({s.planned_date for s in planned if not work.is_open(s.planned_date)})
        if not closed:
            continue
        patient = session.get(Patient, course.patient_pk)
        assert patient is not None
        before = {s.number: s.planned_date for s in planned}
        try:
            _replan_owed(
                session,
                course,
                kb.courses[course.template_id],
                work,
                planned[0].planned_date,
                _closed_days_reason(closed),
            )
        except InputError as exc:
            field = next((f for f in CALENDAR_FIELDS if f in changed), "closures")
            raise InputError(
                [
                    Problem(
                        field,
                        calendar.as_dict().get(field),
                        f"a calendar on which the sessions still owed of course {course.id} "
                        f"(patient {patient.id}) can be planned again from "
                        f"{planned[0].planned_date.isoformat()}: {p.expected}",
                    )
                    for p in exc.problems
                ]
            ) from None
        bump_version(session, patient, patient.version)
        course.updated_at = utcnow()
        after = {s.number: s.planned_date for s in course.sessions if s.status == "planned"}
        sessions = [
            {"number": n, "from": before[n].isoformat(), "to": after[n].isoformat()}
            for n in sorted(after)
            if n in before and before[n] != after[n]
        ]
        audit.record(
            session,
            actor,
            "course.replan",
            patient_id=patient.id,
            resource=f"courses/{course.id}",
            detail={"closed": [d.isoformat() for d in closed], "sessions": sessions},
        )
        moved.append(
            {
                "patient_id": patient.id,
                "course_id": course.id,
                "template": course.template_id,
                "closed": [d.isoformat() for d in closed],
                "sessions": sessions,
            }
        )
    return moved


def _number(s: CourseSession) -> int:
    return s.number


def stop_course(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    patient_id: str,
    course_id: int,
    reason: str,
    if_match: int | None,
    today: date,
    adequate_trial_days: int | None = None,
) -> dict[str, Any]:
    """Stop a course early: the sessions still planned are cancelled (not re-planned). The
    list summary is computed under ``adequate_trial_days`` (the setting)."""
    actor.require_write()
    if not reason.strip():
        raise InputError([Problem("reason", reason, "why the course stops")])
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id)
        course = _course(session, patient, course_id)
        if course.status != "active":
            raise Conflict(f"course {course.id} is {course.status} already")
        bump_version(session, patient, if_match)
        for s in course.sessions:
            if s.status == "planned":
                s.status = "cancelled"
                s.note = "course stopped"
        course.status = "stopped"
        course.stop_reason = reason.strip()
        course.plan_version += 1
        course.updated_at = utcnow()
        session.flush()
        session.add(_snapshot(course, f"stopped: {reason.strip()}"))
        template = kb.courses[course.template_id]
        _write_back(patient, course, template, kb)
        _resummarise(session, patient, kb, today, adequate_trial_days)
        audit.record(
            session,
            actor,
            "course.stop",
            patient_id=patient.id,
            resource=f"courses/{course.id}",
            detail={"reason": reason.strip()},
        )
        return course_view(patient, course, kb)


def plan_history(
    store: Store, actor: Actor, patient_id: str, course_id: int
) -> list[dict[str, Any]]:
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id)
        course = _course(session, patient, course_id)
        plans = session.scalars(
            select(CoursePlan).where(CoursePlan.course_id == course.id).order_by(CoursePlan.version)
        ).all()
        audit.record(
            session, actor, "course.plans", patient_id=patient.id, resource=f"courses/{course.id}"
        )
        return [
            {
                "version": p.version,
                "reason": p.reason,
                "created_at": p.created_at.isoformat(),
                "sessions": p.sessions,
            }
            for p in plans
        ]


def course_calendar(
    store: Store, actor: Actor, kb: KnowledgeBase, patient_id: str, course_id: int
) -> bytes:
    """The course as iCalendar."""
    with store.transaction() as session:
        patient = load_patient(session, actor, patient_id)
        course = _course(session, patient, course_id)
        view = course_view(patient, course, kb)
        audit.record(
            session, actor, "course.export", patient_id=patient.id, resource=f"courses/{course.id}"
        )
        sessions = [
            {**s, "date": date.fromisoformat(s["date"]), "time": time.fromisoformat(s["time"])}
            for s in view["sessions"]
        ]
        return course_ical(
            course_uid=course.uid,
            title=view["name"],
            patient_id=patient.id,
            zone=ZoneInfo(course.timezone),
            plan_version=course.plan_version,
            stamp=course.updated_at,
            sessions=sessions,
        )
