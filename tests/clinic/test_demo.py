"""The demo (`trdnav serve --demo`) shows every verdict, every alert and every chart state,
and a course in progress, on whatever day it is started."""

from datetime import date

import pytest

from trdnav.clinic import courses, demo, demo_courses, measures, patients
from trdnav.clinic.actor import Actor
from trdnav.core.intake import parse_history
from trdnav.knowledge.fhir_codes import load_fhir_codes
from trdnav.settings import Settings
from trdnav.store import migrate
from trdnav.store.database import Store
from trdnav.web.charts import chart_state

VERDICTS = {"eligible", "caution", "contraindicated", "not_yet", "trial_only"}
CHART_STATES = {"none", "single", "improving", "remission", "worsening"}
COURSE_ALERTS = {
    "suicidal_ideation",
    "blood_pressure_high",
    "severe_side_effect",
    "ect_remission",
    "ect_plateau",
    "early_nonresponse",
}


@pytest.mark.parametrize("today", [date(2026, 3, 2), date(2027, 12, 24)])
def test_hand_made_histories_are_valid_and_moved_to_today(kb, today):
    docs = demo.hand_made_histories(today)
    assert len(docs) >= 12
    for doc in docs:
        assert doc["as_of"] == today.isoformat()
        parse_history(doc, kb)


@pytest.fixture(scope="module", params=[date(2026, 3, 2), date(2026, 11, 27)], ids=str)
def seeded(request, tmp_path_factory, kb):
    """The demo as seeded on a Monday in March, and on the day after Thanksgiving."""
    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    migrate.upgrade(url)
    store = Store(url)
    today = request.param
    login = demo.seed_demo(store, kb, today, settings=Settings(timezone="UTC"))
    yield store, today, login
    store.dispose()


def test_the_demo_shows_every_verdict_alert_and_chart_state(seeded, kb):
    store, today, login = seeded
    assert login.created
    actor = Actor(clinic_id=1, role="admin", email="test")
    listed = patients.list_patients(store, actor, kb, patients.PatientFilters(limit=500), today)
    assert listed.total >= 30
    verdicts, alerts, states, course_codes, statuses = set(), set(), set(), set(), set()
    for item in listed.items:
        _, a = patients.patient_with_assessment(store, actor, kb, item["id"], today)
        verdicts |= {o.verdict for o in a.options}
        alerts |= {al.code for al in a.alerts}
        states |= {chart_state(kb.instruments[k], s) for k, s in a.series.items()}
        if not a.series:
            states.add("none")
        for course in courses.list_courses(store, actor, kb, item["id"]):
            statuses.add(course["status"])
            course_codes |= {al["code"] for al in course["alerts"]}
    assert verdicts == VERDICTS
    assert alerts == {"suicidal_ideation"}
    assert states >= CHART_STATES
    assert course_codes == COURSE_ALERTS
    assert {"active", "completed"} <= statuses


@pytest.mark.parametrize(
    ("measure", "expected"),
    [
        (
            "cms159",
            {
                "demo-fhir-remission": (1, 1, 0, 1),
                "demo-fhir-ongoing": (1, 1, 0, 0),
                "demo-fhir-hospice": (1, 1, 1, 0),
            },
        ),
        (
            "cms2",
            {
                "demo-fhir-remission": (1, 1, 0, 1, 0),
                "demo-fhir-ongoing": (1, 1, 0, 1, 0),
                "demo-fhir-hospice": (1, 1, 0, 0, 0),
                "demo-fhir-declined": (1, 1, 0, 0, 1),
            },
        ),
    ],
)
def test_the_demo_fills_every_population_of_the_measures_for_last_year(
    seeded, kb, measure, expected
):
    store, today, _ = seeded
    actor = Actor(clinic_id=1, role="admin", email="test")
    found = measures.clinic_measure_view(
        store, actor, kb, load_fhir_codes(), measure, today.year - 1, today
    )
    assert not found.unreadable
    got = {
        p.id: tuple(int(met) for met in p.result.populations.values())
        for p in found.patients
        if any(p.result.populations.values())
    }
    assert got == expected


def test_the_course_in_progress_has_a_missed_session_planned_again(seeded, kb):
    store, today, _ = seeded
    actor = Actor(clinic_id=1, role="admin", email="test")
    (course,) = courses.list_courses(store, actor, kb, "demo-tms")
    view = courses.get_course(store, actor, kb, Settings(timezone="UTC"), "demo-tms", course["id"])
    assert view["status"] == "active"
    assert [s["status"] for s in view["sessions"]].count("missed") == 1
    assert view["plan_version"] == 2
    assert all(
        date.fromisoformat(s["date"]) >= today for s in view["sessions"] if s["status"] == "planned"
    )
    assert all(
        date.fromisoformat(s["date"]) < today for s in view["sessions"] if s["status"] != "planned"
    )


def test_the_demo_courses_measure_at_the_sessions_their_plans_have_them_due(seeded, kb):
    store, _, _ = seeded
    actor = Actor(clinic_id=1, role="admin", email="test")
    for spec in demo_courses.DEMO_COURSES:
        (course,) = courses.list_courses(store, actor, kb, spec.patient_id)
        view = courses.get_course(
            store, actor, kb, Settings(timezone="UTC"), spec.patient_id, course["id"]
        )
        due = {
            (s["number"], d["instrument"])
            for s in view["sessions"]
            if s["status"] == "delivered"
            for d in s["due"]
        }
        measured = {(m["session"], m["instrument"]) for m in view["measurements"]}
        assert measured == due, spec.patient_id
        assert len(measured) == len(view["measurements"]), spec.patient_id  # one each


def test_seeding_again_keeps_the_patients_and_renews_the_password(seeded, kb):
    store, today, first = seeded
    again = demo.seed_demo(store, kb, today, settings=Settings(timezone="UTC"))
    assert not again.created
    assert again.password != first.password
    actor = Actor(clinic_id=1, role="admin", email="test")
    assert len(courses.list_courses(store, actor, kb, "demo-tms")) == 1
