"""Who may do what, for every endpoint of the OpenAPI document.

- Without a token: 401 everywhere except the public endpoints.
- Another clinic's user: 404 for every patient route (existence does not leak).
- A viewer: reads allowed, writes 403.
- Administrative routes: 403 for clinicians and viewers.
- CDS Hooks services: only CDS client JWTs (tests/cds/); user tokens get 401.
A new endpoint fails `test_every_endpoint_is_classified` until it is added here.
"""

import httpx
import pytest

from trdnav.api import create_app
from trdnav.settings import Settings

PUBLIC = {
    ("post", "/auth/login"),
    ("get", "/health"),
    ("get", "/knowledge"),
    ("get", "/problems/{slug}"),
    ("get", "/cds-services"),
}
ADMIN = {
    ("get", "/users"),
    ("post", "/users"),
    ("patch", "/users/{email}"),
    ("get", "/audit"),
    ("get", "/audit/export"),
    ("post", "/patients/{patient_id}/restore"),
    ("patch", "/clinic/settings"),
    ("get", "/clinic/replanned-courses"),
    ("get", "/cds/feedback"),
}
CDS = {("post", "/cds-services/{service_id}"), ("post", "/cds-services/{service_id}/feedback")}
SELF = {("get", "/auth/me")}
CLINIC_WIDE = {
    ("get", "/patients"),
    ("post", "/patients"),
    ("post", "/patients/import"),
    ("get", "/courses/templates"),
    ("get", "/clinic/settings"),
    ("post", "/patients/import/fhir"),
    ("get", "/measures/{measure}"),
}

ITEM = {
    "trials": {
        "drug": "sertraline",
        "daily_dose_mg": 50,
        "start": "2024-08-01",
        "end": None,
        "role": "antidepressant",
        "response": "unknown",
    },
    "psychotherapy": {"type": "CBT", "start": "2024-08-01", "end": None, "sessions": 1},
    "procedures": {
        "type": "ECT",
        "start": "2024-08-01",
        "end": None,
        "sessions": 1,
        "response": "unknown",
    },
    "measurements": {"instrument": "PHQ-9", "date": "2024-08-01", "items": [0] * 9},
}


def operations():
    spec = create_app(Settings(database_url="sqlite://")).openapi()
    return sorted((method, path) for path, ops in spec["paths"].items() for method in ops)


OPERATIONS = operations()
PATIENT_ROUTES = [
    op for op in OPERATIONS if op[1].startswith("/patients/{patient_id}") and op not in ADMIN
]


def test_every_endpoint_is_classified():
    known = PUBLIC | ADMIN | SELF | CLINIC_WIDE | CDS | set(PATIENT_ROUTES)
    assert set(OPERATIONS) == known


def _request(
    client, method, path, patient_id="example-stage-2", item_id=1, version='"1"', course_id=1
):
    url = path.replace("{patient_id}", patient_id).replace("{item_id}", str(item_id))
    url = url.replace("{course_id}", str(course_id)).replace("{number}", "1")
    url = url.replace("{slug}", "not-found").replace("{email}", "someone@clinic.test")
    body = None
    segment = url.split("/")[3] if url.count("/") >= 3 else ""
    if method in ("post", "put") and segment in ITEM:
        body = ITEM[segment]
    elif url.endswith("/notes") and method == "post":
        body = {"text": "note"}
    elif url.endswith("/courses") and method == "post":
        body = {"template": "ect-mwf", "start": "2026-12-21", "reviewed": True}
    elif "/sessions/" in url:
        body = {"status": "missed"}
    elif url.endswith("/stop"):
        body = {"reason": "testing access"}
    elif url == "/clinic/settings":
        body = {"timezone": "UTC"}
    elif method == "patch" and url.startswith("/patients"):
        body = {"name": "x"}
    elif method == "post" and url in ("/patients", "/patients/import"):
        body = {
            "patient": {"birth_date": "1990-01-01", "sex": "f"},
            "episode": {
                "onset": "2024-01-01",
                "severity": "mild",
                "psychotic_features": False,
                "recurrent": False,
            },
        }
    elif url == "/users":
        body = {"email": "new@clinic.test", "role": "viewer", "password": "long enough pw"}
    elif url.startswith("/users/"):
        body = {"active": False}
    elif url == "/auth/login":
        body = {"email": "nobody@clinic.test", "password": "wrong password"}
    return client.request(method.upper(), url, json=body, headers={"If-Match": version})


@pytest.fixture
def two_clinics(make_clinic, example_doc):
    mine, theirs = make_clinic(), make_clinic()
    with mine.client("clinician") as c:
        assert c.post("/patients/import", json=example_doc("stage-2-trd")).status_code == 201
        trial = c.get("/patients/example-stage-2").json()["medication_trials"][0]["item_id"]
        c.post("/patients/example-stage-2/notes", json={"text": "private"})
        course = c.post(
            "/patients/example-stage-2/courses",
            json={"template": "ect-mwf", "start": "2026-12-21", "reviewed": True},
            headers={"If-Match": '"1"'},
        )
        assert course.status_code == 201, course.text
    return mine, theirs, trial, course.json()["id"]


@pytest.mark.parametrize(("method", "path"), sorted(set(OPERATIONS) - PUBLIC))
def test_no_token_means_401(server, method, path):
    with httpx.Client(base_url=server.url) as anonymous:
        response = _request(anonymous, method, path)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["type"] == "/problems/not-authenticated"


def test_another_clinic_never_sees_a_patient(two_clinics):
    mine, theirs, trial, course = two_clinics
    with theirs.client("admin") as other:
        for method, path in PATIENT_ROUTES:
            response = _request(other, method, path, item_id=trial, course_id=course)
            assert response.status_code == 404, (method, path, response.text)
        listed = other.get("/patients").json()
        assert listed["total"] == 0
        audit = other.get("/audit", params={"patient_id": "example-stage-2"}).json()
        assert [e for e in audit if e["action"] != "audit.query"] == []
    with mine.client("viewer") as viewer:
        assert viewer.get("/patients/example-stage-2").status_code == 200
    with mine.client("clinician") as c:
        assert c.get("/patients/example-stage-2").json()["version"] == 2
        assert [n["text"] for n in c.get("/patients/example-stage-2/notes").json()] == ["private"]


def test_viewers_read_but_never_write(two_clinics):
    mine, _, trial, course = two_clinics
    writes = [op for op in PATIENT_ROUTES + sorted(CLINIC_WIDE) if op[0] != "get"]
    with mine.client("viewer") as viewer:
        for method, path in writes:
            response = _request(viewer, method, path, item_id=trial, course_id=course)
            assert response.status_code == 403, (method, path, response.text)
        for method, path in [op for op in PATIENT_ROUTES if op[0] == "get"]:
            assert _request(viewer, method, path, course_id=course).status_code == 200, path
    with mine.client("clinician") as c:
        assert c.get("/patients/example-stage-2").json()["version"] == 2


@pytest.mark.parametrize("role", ["clinician", "viewer"])
def test_administration_is_for_administrators(two_clinics, role):
    mine, _, _, _ = two_clinics
    with mine.client(role) as client:
        for method, path in sorted(ADMIN):
            response = _request(client, method, path)
            assert response.status_code == 403, (method, path)
            assert response.json()["type"] == "/problems/not-permitted"


def test_cds_services_refuse_user_tokens(two_clinics):
    mine, _, _, _ = two_clinics
    with mine.client("admin") as admin:
        for method, path in sorted(CDS):
            url = path.replace("{service_id}", "trdnav-patient-view")
            response = admin.request(method.upper(), url, json={"feedback": []})
            assert response.status_code == 401, (method, path)
            assert "is not allowed" in response.json()["detail"]


def test_public_endpoints(server):
    with httpx.Client(base_url=server.url) as anonymous:
        assert anonymous.get("/health").json()["status"] == "ok"
        assert len(anonymous.get("/knowledge").json()["treatments"]) == 11
        assert len(anonymous.get("/cds-services").json()["services"]) == 3
        docs = anonymous.get("/docs")
        assert docs.status_code == 200
        assert "/static/swagger-ui/swagger-ui-bundle.js" in docs.text
        assert "http://" not in docs.text
        assert "https://" not in docs.text
        assert anonymous.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200
        assert anonymous.get("/openapi.json").json()["info"]["title"] == "trdnav"
