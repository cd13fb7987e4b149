"""Demo treatment courses, planned and recorded through the course use cases.

They give the demo a course in progress (TMS, with a missed session re-planned), a
completed course, and every course alert: a new suicide-item response, high blood pressure
before esketamine, a severe side effect, ECT remission, an ECT plateau and early
non-response at a review point. Each course starts on the latest day from which the clinic's
calendar (weekends, public holidays) places its first ``sessions`` sessions before today, and
those are recorded, so the demo looks the same on any day of the year. The measurements are
taken where the plan has them due: each instrument's answers are recorded, in turn, at the
sessions at which the course's plan (as it stands when the session is recorded) has that
instrument due.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from typing import Any

from trdnav.clinic import courses, patients
from trdnav.clinic.actor import Actor
from trdnav.clinic.calendars import ClinicCalendar
from trdnav.core.knowledge import KnowledgeBase
from trdnav.core.scheduling import plan
from trdnav.settings import Settings
from trdnav.store.database import Store

__all__ = ["DEMO_COURSES", "DemoCourse", "seed_courses"]

Measured = dict[str, list[list[int]]]
"""By instrument, the answers to record at its successive due sessions (the first at the
first session it is due, and so on; more than will be due, since how many fall among the
recorded sessions depends on the calendar)."""


@dataclass(frozen=True)
class DemoCourse:
    patient_id: str
    template: str
    sessions: int
    """Sessions recorded (delivered or missed) before today."""
    at: time
    parameters: dict[str, Any]
    """Recorded at every delivered session, unless ``first_parameters`` says otherwise."""
    first_parameters: dict[str, Any] = field(default_factory=dict)
    measurements: Measured = field(default_factory=dict)
    side_effects: dict[int, list[dict[str, str]]] = field(default_factory=dict)
    missed: tuple[int, ...] = ()


TMS = {
    "motor_threshold_pct": 55,
    "intensity_pct_mt": 120,
    "pulses": 3000,
    "coil_site": "left_dlpfc",
}
ECT = {"electrode_placement": "right_unilateral", "charge_mc": 150, "seizure_seconds": 35}

DEMO_COURSES: tuple[DemoCourse, ...] = (
    DemoCourse(
        "demo-tms",
        "tms-10hz",
        sessions=22,
        at=time(9, 0),
        parameters=TMS,
        missed=(5,),
        measurements={
            "PHQ-9": [
                [3, 2, 2, 2, 2, 2, 2, 2, 0],
                [2, 2, 2, 2, 2, 2, 2, 1, 0],
                [2, 2, 1, 2, 1, 2, 1, 1, 0],
                [1, 2, 1, 1, 1, 1, 1, 1, 0],
                [1, 1, 1, 1, 1, 1, 1, 0, 0],
                [1, 1, 1, 1, 1, 1, 1, 0, 0],
                [1, 1, 1, 1, 1, 1, 0, 0, 0],
                [1, 1, 1, 1, 1, 1, 0, 0, 0],
            ]
        },
        side_effects={2: [{"name": "Headache", "severity": "mild"}]},
    ),
    DemoCourse(
        "demo-esketamine",
        "esketamine-trd",
        sessions=7,
        at=time(10, 0),
        first_parameters={
            "dose_mg": 56,
            "bp_before": "152/94",
            "bp_after": "138/86",
            "sedation": "mild",
            "dissociation": "mild",
        },
        parameters={
            "dose_mg": 84,
            "bp_before": "132/84",
            "bp_after": "128/80",
            "sedation": "none",
            "dissociation": "mild",
        },
        measurements={
            "MADRS": [[4, 4, 3, 4, 2, 3, 4, 4, 3, 1], [4, 3, 3, 3, 2, 3, 3, 3, 3, 1]],
            "PHQ-9": [
                [3, 3, 2, 2, 2, 2, 2, 2, 0],
                [3, 2, 2, 2, 2, 2, 2, 1, 0],
                # a new suicide-item response: the course's critical alert
                [2, 2, 2, 2, 1, 2, 2, 1, 1],
                [2, 2, 2, 2, 1, 2, 2, 1, 1],
                [2, 2, 2, 2, 1, 2, 1, 1, 1],
                [2, 2, 2, 2, 1, 2, 1, 1, 1],
            ],
        },
        side_effects={3: [{"name": "Dissociation", "severity": "severe"}]},
    ),
    DemoCourse(
        "demo-ect-remission",
        "ect-mwf",
        sessions=6,
        at=time(8, 0),
        parameters=ECT,
        measurements={
            "HAMD-17": [
                [3, 3, 0, 2, 2, 2, 3, 3, 2, 3, 2, 1, 2, 1, 1, 0, 0],
                [2, 2, 0, 1, 1, 1, 2, 2, 1, 2, 1, 1, 1, 0, 1, 0, 0],
                [1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0],
            ]
        },
        side_effects={2: [{"name": "Headache", "severity": "mild"}]},
    ),
    DemoCourse(
        "demo-ect-plateau",
        "ect-mwf",
        sessions=10,
        at=time(8, 0),
        parameters=ECT,
        measurements={
            "HAMD-17": [
                [3, 3, 0, 2, 2, 1, 3, 2, 2, 3, 2, 1, 1, 1, 1, 0, 0],
                [2, 2, 0, 2, 1, 1, 3, 2, 1, 2, 2, 1, 1, 0, 1, 0, 0],
                [2, 2, 0, 2, 1, 1, 2, 2, 1, 2, 2, 0, 1, 0, 1, 0, 0],
                [2, 2, 0, 1, 1, 1, 2, 2, 1, 2, 2, 1, 1, 0, 1, 0, 0],
            ]
        },
        side_effects={4: [{"name": "Memory loss", "severity": "moderate"}]},
    ),
    DemoCourse(
        "demo-ketamine",
        "ketamine-iv",
        sessions=6,
        at=time(13, 0),
        parameters={
            "dose_mg_per_kg": 0.5,
            "infusion_minutes": 40,
            "bp_before": "126/80",
            "bp_after": "134/84",
            "dissociation": "mild",
        },
        measurements={
            "QIDS-SR16": [
                [2, 2, 2, 0, 3, 2, 0, 2, 0, 2, 2, 0, 3, 3, 1, 1],
                [2, 2, 2, 0, 3, 2, 0, 2, 0, 2, 2, 0, 3, 2, 1, 1],
                [2, 2, 2, 0, 3, 2, 0, 2, 0, 2, 2, 0, 2, 2, 1, 1],
                [2, 2, 2, 0, 3, 2, 0, 2, 0, 2, 2, 0, 2, 2, 1, 1],
            ]
        },
    ),
)


def _record(
    spec: DemoCourse, session: dict[str, Any], first: bool, taken: dict[str, int]
) -> dict[str, Any]:
    """The body recording a planned ``session`` of the course's view; ``taken`` counts the
    answers of each instrument recorded so far (and is advanced)."""
    number = session["number"]
    if number in spec.missed:
        return {"status": "missed", "note": "did not attend"}
    body: dict[str, Any] = {
        "status": "delivered",
        "parameters": spec.first_parameters if first and spec.first_parameters else spec.parameters,
    }
    if number in spec.side_effects:
        body["side_effects"] = spec.side_effects[number]
    measured = []
    for instrument in dict.fromkeys(d["instrument"] for d in session["due"]):
        answers = spec.measurements.get(instrument, [])
        index = taken.get(instrument, 0)
        if index < len(answers):
            measured.append({"instrument": instrument, "items": answers[index]})
            taken[instrument] = index + 1
    if measured:
        body["measurements"] = measured
    return body


def _start(spec: DemoCourse, kb: KnowledgeBase, settings: Settings, today: date) -> date:
    """The latest start that puts ``spec.sessions`` sessions before today."""
    template = kb.courses[spec.template]
    calendar = ClinicCalendar({}, settings)
    for days in range(1, 366):
        start = today - timedelta(days=days)
        slots = plan(template, start, spec.at, calendar.work_calendar(start))
        if sum(1 for s in slots if s.date < today) >= spec.sessions:
            return start
    raise ValueError(f"{spec.template}: no start puts {spec.sessions} sessions before {today}")


def seed_course(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    settings: Settings,
    spec: DemoCourse,
    today: date,
) -> None:
    """Plan the course and record every session planned before today."""
    version = patients.get_patient(store, actor, spec.patient_id)["version"]
    view = courses.create_course(
        store,
        actor,
        kb,
        settings,
        spec.patient_id,
        template_id=spec.template,
        start=_start(spec, kb, settings, today),
        session_time=spec.at,
        if_match=version,
        today=today,
        reviewed=True,  # the demo's clinicians planned these courses knowing each verdict
    )
    delivered = recorded = 0
    taken: dict[str, int] = {}
    while view["status"] == "active" and recorded < spec.sessions:
        due = next((s for s in view["sessions"] if s["status"] == "planned"), None)
        if due is None or date.fromisoformat(due["date"]) >= today:
            break
        body = _record(spec, due, delivered == 0, taken)
        view = courses.record_session(
            store,
            actor,
            kb,
            settings,
            spec.patient_id,
            view["id"],
            due["number"],
            body,
            view["patient_version"],
            today,
        )
        delivered += body["status"] == "delivered"
        recorded += 1


def seed_courses(
    store: Store, actor: Actor, kb: KnowledgeBase, settings: Settings, today: date
) -> None:
    for spec in DEMO_COURSES:
        seed_course(store, actor, kb, settings, spec, today)
