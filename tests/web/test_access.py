"""Who may do what, for every route of the web app (the API's rules, as pages).

- Without a session: every page but sign-in sends the browser to sign in.
- Another clinic's user: 404 for every patient route (existence does not leak).
- A viewer: reads allowed; every write, and every form that leads to one, 403.
- Administration: 403 for clinicians and viewers.
A new route fails `test_every_web_route_is_classified` until it is added here.
"""

import re

import pytest

from trdnav.clinic import courses, patients
from trdnav.web.mount import ROUTERS

ROUTES = sorted(
    (method.lower(), route.path)
    for router in ROUTERS
    for route in router.routes
    for method in route.methods
)
PUBLIC = {("get", "/app/login"), ("post", "/app/login"), ("get", "/app")}
ADMIN = {
    ("get", "/app/settings"),
    ("post", "/app/settings"),
    ("get", "/app/users"),
    ("post", "/app/users"),
    ("post", "/app/users/{email}/active"),
    ("post", "/app/users/{email}/password"),
}
CLINIC_WIDE = {
    ("get", "/app/patients"),
    ("get", "/app/new-patient"),
    ("post", "/app/new-patient"),
    ("post", "/app/logout"),
    ("get", "/app/import"),
    ("post", "/app/import/preview"),
    ("post", "/app/import"),
    ("get", "/app/measures"),
}
PATIENT = [r for r in ROUTES if "{patient_id}" in r[1]]
FORM_PAGES = [r for r in PATIENT if r[0] == "get" and r[1].endswith(("/new", "/edit"))]
READS = [r for r in PATIENT if r[0] == "get" and r not in FORM_PAGES]
WRITES = [r for r in PATIENT if r[0] == "post"] + [
    r for r in sorted(CLINIC_WIDE) if r[0] == "post" and r[1] != "/app/logout"
]
CLINIC_FORMS = [("get", "/app/new-patient"), ("get", "/app/import")]


def test_every_web_route_is_classified():
    assert set(ROUTES) == PUBLIC | ADMIN | CLINIC_WIDE | set(PATIENT)


def body(path):
    """A plausible form for each route, so that only the access rule can refuse it."""
    if path.endswith("/measurements") or "/measurements/{item_id}" in path:
        return {"instrument": "PHQ-9", "date": "2024-08-01"} | {
            f"items[{i}]": "0" for i in range(9)
        }
    if path.endswith(("/trials", "/trials/{item_id}")):
        return {
            "drug": "sertraline",
            "daily_dose_mg": "50",
            "start": "2024-08-01",
            "role": "antidepressant",
            "response": "unknown",
        }
    if path.endswith(("/procedures", "/procedures/{item_id}")):
        return {"type": "ECT", "start": "2024-08-01", "sessions": "1", "response": "unknown"}
    if path.endswith(("/psychotherapy", "/psychotherapy/{item_id}")):
        return {"type": "CBT", "start": "2024-08-01", "sessions": "1"}
    if path.endswith("/courses"):
        return {"template": "ect-mwf", "start": "2026-12-21", "session_time": "09:00"}
    if "/sessions/" in path:
        return {"template": "ect-mwf", "status": "missed"}
    if path.endswith("/stop"):
        return {"reason": "testing access"}
    if path == "/app/settings":
        return {"timezone": "UTC", "working_days": "mon"}
    if path == "/app/users":
        return {"email": "new@web.test", "role": "viewer", "password": "long enough pw"}
    if path.endswith("/active"):
        return {"active": "no"}
    if path == "/app/import":
        return {"document": '{"id": "x"}'}
    if path.endswith("/edit") or path == "/app/new-patient":
        return {
            "birth_date": "1980-01-01",
            "sex": "female",
            "episode.onset": "2024-01-01",
            "episode.severity": "mild",
        }
    return {}


@pytest.fixture
def two_clinics(make_clinic, example, kb):
    mine, theirs = make_clinic(), make_clinic()
    pid = mine.add_patient(example("stage-2-trd"))["id"]
    store, actor, today = mine.server.store, mine.actor, mine.server.settings.today()
    patients.add_item(
        store,
        actor,
        kb,
        pid,
        "procedures",
        {"type": "ECT", "start": "2024-07-01", "sessions": 2, "response": "unknown"},
        1,
        today,
    )
    course = courses.create_course(
        store,
        actor,
        kb,
        mine.server.settings,
        pid,
        template_id="ect-mwf",
        start=today,
        session_time=None,
        if_match=2,
        today=today,
        reviewed=True,
    )
    view = patients.get_patient(store, actor, pid)
    items = {
        kind: view[section][0]["item_id"]
        for kind, section in (
            ("trials", "medication_trials"),
            ("procedures", "procedures"),
            ("psychotherapy", "psychotherapy"),
            ("measurements", "measurements"),
        )
    }
    return mine, theirs, pid, items, course["id"], view["version"]


def url(path, pid="none", items=None, course_id=1, email="someone@web.test"):
    kind = next((k for k in (items or {}) if f"/{k}/" in path), None)
    item_id = (items or {}).get(kind, 1)
    out = path.replace("{patient_id}", pid).replace("{item_id}", str(item_id))
    out = out.replace("{course_id}", str(course_id)).replace("{number}", "1")
    return out.replace("{kind}", "summary").replace("{email}", email)


def send(browser, method, path, csrf, **kw):
    target = url(path, **kw)
    if method == "get":
        return browser.get(target)
    return browser.post(target, data={"csrf": csrf, "version": "99", **body(path)})


def csrf_of(browser):
    page = browser.get("/app/patients").text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize(("method", "path"), sorted(set(ROUTES) - PUBLIC))
def test_without_a_session_every_page_sends_the_browser_to_sign_in(clinic, method, path):
    with clinic.client(None) as anonymous:
        anonymous.get("/app/login")  # a session without a user, as a browser has
        response = send(anonymous, method, path, "x", pid="anyone")
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/app/login")


def test_another_clinic_never_sees_a_patient(two_clinics):
    mine, theirs, pid, items, course_id, version = two_clinics
    with theirs.client("admin") as other:
        csrf = csrf_of(other)
        for method, path in PATIENT:
            response = send(other, method, path, csrf, pid=pid, items=items, course_id=course_id)
            assert response.status_code == 404, (method, path, response.text[-400:])
            assert pid not in response.text.replace(f"no patient &#39;{pid}&#39;", "")
        listed = other.get(f"/app/patients?q={pid}").text
        assert "No patients match the filters." in listed
    assert patients.get_patient(mine.server.store, mine.actor, pid)["version"] == version


def test_viewers_read_but_never_write(two_clinics):
    mine, _, pid, items, course_id, version = two_clinics
    with mine.client("viewer") as viewer:
        csrf = csrf_of(viewer)
        for method, path in FORM_PAGES + CLINIC_FORMS + WRITES:
            response = send(viewer, method, path, csrf, pid=pid, items=items, course_id=course_id)
            assert response.status_code == 403, (method, path, response.text[-400:])
            assert "Not permitted" in response.text
        for method, path in READS:
            response = send(viewer, method, path, csrf, pid=pid, items=items, course_id=course_id)
            assert response.status_code == 200, (method, path)
    assert patients.get_patient(mine.server.store, mine.actor, pid)["version"] == version


@pytest.mark.parametrize("role", ["clinician", "viewer"])
def test_administration_is_for_administrators(clinic, role):
    with clinic.client(role) as browser:
        csrf = csrf_of(browser)
        for method, path in sorted(ADMIN):
            response = send(browser, method, path, csrf, email=clinic.emails["admin"])
            assert response.status_code == 403, (method, path)
        assert "Users" not in browser.get("/app/patients").text.split("<main", 1)[0]
