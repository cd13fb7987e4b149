"""Bad input over real HTTP: always a 422 (or 404) problem that names the field, shows the value
safely and stores nothing; never a 500, a dropped connection or an echoed secret."""

import json

import pytest

JSON = {"content-type": "application/json"}
PATIENT = "/patients/example-stage-2"


def invalid(response, path):
    """The problems of a 422 answer, checking its form; the one at ``path``."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = json.loads(response.content)  # strict JSON: no NaN
    assert body["type"] == "/problems/invalid-input"
    found = {e["path"]: e for e in body["errors"]}
    assert path in found, body["errors"]
    return found[path]


def stored_ids(api):
    return [p["id"] for p in api.get("/patients").json()["items"]]


def raw(doc):
    return json.dumps(doc, ensure_ascii=True).encode()


@pytest.fixture
def patient(api, example_doc):
    created = api.post("/patients/import", json=example_doc("stage-2-trd"))
    assert created.status_code == 201
    return created.headers["ETag"]


@pytest.mark.parametrize("bad", ["ünïcode-✓", "slash/id", "a\u0000b", "a b"])
def test_an_id_that_is_not_a_fhir_id_is_refused_before_anything_is_stored(api, example_doc, bad):
    doc = {**example_doc("stage-2-trd"), "id": bad}
    for route in ("/patients", "/patients/import"):
        problem = invalid(api.post(route, json=doc), "id")
        assert problem["value"] == bad
        assert problem["expected"] == "a FHIR id: 1 to 64 letters, digits, '-' or '.'"
    assert stored_ids(api) == []


def test_a_created_patient_is_found_at_its_location(api, example_doc):
    created = api.post("/patients", json={**example_doc("stage-2-trd"), "id": "Pat-1.b"})
    assert created.status_code == 201
    assert created.headers["Location"] == "/patients/Pat-1.b"
    assert api.get(created.headers["Location"]).json()["id"] == "Pat-1.b"
    fhir = api.get(f"{created.headers['Location']}/fhir").json()
    assert fhir["entry"][0]["resource"]["id"] == "Pat-1.b"


@pytest.mark.parametrize(("number", "shown"), [("1e999", "Infinity"), ("NaN", "NaN")])
def test_a_dose_that_is_not_a_finite_number_is_refused(api, example_doc, patient, number, shown):
    doc = {**example_doc("stage-2-trd"), "id": "dose"}
    body = raw(doc).replace(b'"daily_dose_mg": 150', b'"daily_dose_mg": ' + number.encode(), 1)
    problem = invalid(
        api.post("/patients", content=body, headers=JSON), "medication_trials[0].daily_dose_mg"
    )
    assert (problem["value"], problem["expected"]) == (shown, "a finite number")
    trial = {
        "drug": "sertraline",
        "daily_dose_mg": 100,
        "start": "2024-01-01",
        "end": "2024-03-01",
        "role": "antidepressant",
        "response": "none",
    }
    item = raw(trial).replace(b"100", number.encode())
    added = api.post(f"{PATIENT}/trials", content=item, headers={**JSON, "If-Match": patient})
    assert invalid(added, "daily_dose_mg")["value"] == shown
    assert stored_ids(api) == ["example-stage-2"]
    assert api.get(PATIENT).headers["ETag"] == patient


@pytest.mark.parametrize("sessions", [10_001, 2**63, 10**30])
def test_sessions_beyond_any_course_are_refused(api, example_doc, patient, sessions):
    course = {"type": "CBT", "start": "2024-02-05", "end": None, "sessions": sessions}
    doc = {**example_doc("stage-2-trd"), "id": "sessions", "psychotherapy": [course]}
    problem = invalid(api.post("/patients", json=doc), "psychotherapy[0].sessions")
    assert (problem["value"], problem["expected"]) == (sessions, "a number of at most 10000")
    added = api.post(f"{PATIENT}/psychotherapy", json=course, headers={"If-Match": patient})
    assert invalid(added, "sessions")["value"] == sessions
    assert stored_ids(api) == ["example-stage-2"]


@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_a_body_that_is_not_sent_as_json_is_refused(api, example_doc, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = api.post("/patients", content=raw(example_doc("stage-2-trd")), headers=headers)
    problem = invalid(response, "content-type")
    assert problem["value"] == content_type
    assert problem["expected"] == "application/json, with a JSON object as the body"
    assert problem.get("missing", False) is (content_type is None)
    assert stored_ids(api) == []


def test_a_body_that_is_not_json_is_said_where_it_stops(api):
    """The path was a character offset ("[7]") and the value an empty object."""
    problem = invalid(api.post("/patients", content=b'{"id": \n  ', headers=JSON), "(body)")
    assert problem["value"] == "Expecting value: line 2 column 3"
    assert problem["expected"] == "a JSON document"


@pytest.mark.parametrize(
    "body",
    [b"\xff", b'{"id": ' + b"1" * 5000 + b"}", b'{"id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"],
)
def test_a_body_its_parser_cannot_read_is_a_422_with_its_problem(api, body):
    """Text not in UTF-8, a huge integer or nesting beyond the parser was a 400 that no
    operation documented, without the problem."""
    problem = invalid(api.post("/patients", content=body, headers=JSON), "(body)")
    assert problem["expected"].startswith("a JSON document in UTF-8")
    assert stored_ids(api) == []


def test_values_json_cannot_hold_are_shown_as_strings(api):
    response = api.post("/patients", content=b'{"id": NaN, "patient": [Infinity]}', headers=JSON)
    assert invalid(response, "id")["value"] == "NaN"
    assert invalid(response, "patient")["value"] == ["Infinity"]


def test_text_with_an_unpaired_surrogate_is_refused_and_shown_escaped(api, example_doc):
    response = api.post("/patients", content=b'{"id": "\\ud800x"}', headers=JSON)
    assert invalid(response, "id")["value"] == "\\ud800x"
    doc = {**example_doc("stage-2-trd"), "id": "surrogate", "note": "\ud800"}
    problem = invalid(api.post("/patients", content=raw(doc), headers=JSON), "note")
    assert problem["value"] == "\\ud800"
    assert "surrogate" in problem["expected"]
    assert stored_ids(api) == []


def test_text_with_a_nul_character_is_refused_on_every_database(api, example_doc):
    """PostgreSQL cannot store or compare a NUL character: refused as input, naming the
    field or parameter, never a server error (it was a 500, and a reset connection for a
    search)."""
    doc = example_doc("stage-2-trd")
    doc = {**doc, "id": "nul", "patient": {**doc["patient"], "name": "Jane\u0000Example"}}
    problem = invalid(api.post("/patients", content=raw(doc), headers=JSON), "patient.name")
    assert "NUL" in problem["expected"]
    assert stored_ids(api) == []
    patient = api.post("/patients/import", json=example_doc("stage-2-trd")).json()["id"]
    nul = "text without NUL characters"
    for response, path in [
        (api.post(f"/patients/{patient}/notes", json={"text": "a\u0000b"}), "text"),
        (api.get("/patients", params={"q": "a\u0000b"}), "q"),
        (api.get("/patients/a%00b"), "patient_id"),
        (api.get("/patients/a%00b/assessment"), "patient_id"),
    ]:
        assert invalid(response, path)["expected"] == nul
    assert api.get(f"/patients/{patient}/notes").json() == []


def test_a_sign_in_with_a_nul_character_is_refused(clinic):
    with clinic.client("anonymous") as anonymous:
        response = anonymous.post("/auth/login", json={"email": "a\u0000@x.org", "password": "p"})
    assert invalid(response, "email")["expected"] == "text without NUL characters"


def test_a_missing_field_is_reported_missing_not_with_its_parent(server, clinic):
    secret = "SuperSecret-Password-2"
    with clinic.client("anonymous") as anonymous:
        response = anonymous.post("/auth/login", json={"password": secret})
    assert invalid(response, "email") == {
        "path": "email",
        "value": None,
        "expected": "a value (this field is required)",
        "missing": True,
    }
    assert secret not in response.text
    with clinic.client("admin") as admin:
        response = admin.post("/users", json={"role": "viewer", "name": "x", "password": secret})
        assert invalid(response, "email")["missing"] is True
        assert secret not in response.text
        response = admin.post(
            "/users", json={"email": "x@clinic.test", "role": "viewer", "password": 918273645}
        )
        assert invalid(response, "password")["value"] == "(hidden)"
        assert "918273645" not in response.text


def test_an_unknown_severity_filter_is_refused(api, patient):
    problem = invalid(api.get("/patients", params={"severity": "bogus"}), "query.severity")
    assert problem["value"] == "bogus"
    for severity in ("subsyndromal", "mild", "moderate", "severe"):
        assert severity in problem["expected"]
    listed = api.get("/patients", params={"severity": "Moderate"}).json()["items"]
    assert [p["id"] for p in listed] == ["example-stage-2"]


@pytest.mark.parametrize("read", ["assessment", "history", "fhir"])
def test_as_of_follows_the_core_date_rule(api, patient, read):
    for as_of, expected in [
        ("2025-06-02T00:00:00", "a date as YYYY-MM-DD"),
        ("0001-01-01", "a date on or after the episode onset (2023-09-01)"),
        ("2023-08-31", "a date on or after the episode onset (2023-09-01)"),
    ]:
        response = api.get(f"{PATIENT}/{read}", params={"as_of": as_of})
        problem = invalid(response, "query.as_of")
        assert (problem["value"], problem["expected"]) == (as_of, expected)
    assert api.get(f"{PATIENT}/{read}", params={"as_of": "2023-09-01"}).status_code == 200


def test_an_unknown_measure_names_the_measures_there_are(api):
    response = api.get("/measures/cms999", params={"period": 2025})
    assert response.status_code == 404
    body = response.json()
    assert "one of cms159, cms2" in body["detail"]
    assert "nothing was changed" not in body["detail"]
    assert body["errors"] == [
        {"path": "path.measure", "value": "cms999", "expected": "one of cms159, cms2"}
    ]
    assert api.get("/measures/CMS2", params={"period": 2025}).status_code == 200


# --- text longer than the database keeps ------------------------------------------------
# SQLite keeps text of any length; PostgreSQL refuses text longer than its column, which was
# an internal error (500). Refused as input instead, on both, before anything is stored.

DOTTED = "İ" * 200 + "@clinic.example"
"""An address of 215 characters as sent, 415 as kept: lower case, each "İ" is two
characters ("i" and a combining dot above)."""
THERAPY = {"type": "t" * 65, "start": "2024-02-05", "end": None, "sessions": 8}


def _doc_with(doc, **changes):
    return {**doc, "id": "long", **changes}


LONG_TEXTS = [
    pytest.param(
        "clinician",
        "POST",
        "/patients",
        lambda doc, etag: {
            "json": _doc_with(doc, patient={**doc["patient"], "sex": "f" * 33}),
        },
        ("patient.sex", "33 characters", "a text of at most 32 characters"),
        id="patient.sex",
    ),
    pytest.param(
        "clinician",
        "POST",
        "/patients/import",
        lambda doc, etag: {"json": _doc_with(doc, psychotherapy=[THERAPY])},
        ("psychotherapy[0].type", "65 characters", "a text of at most 64 characters"),
        id="psychotherapy.type",
    ),
    pytest.param(
        "clinician",
        "POST",
        f"{PATIENT}/psychotherapy",
        lambda doc, etag: {"json": THERAPY, "headers": {"If-Match": etag}},
        ("type", "65 characters", "a text of at most 64 characters"),
        id="psychotherapy item type",
    ),
    pytest.param(
        "clinician",
        "PATCH",
        PATIENT,
        lambda doc, etag: {"json": {"sex": "f" * 33}, "headers": {"If-Match": etag}},
        ("sex", "33 characters", "a text of at most 32 characters"),
        id="changed sex",
    ),
    pytest.param(
        "admin",
        "POST",
        "/users",
        lambda doc, etag: {
            "json": {"email": DOTTED, "role": "viewer", "password": "long enough password"}
        },
        ("email", "415 characters", "an e-mail address of at most 254 characters"),
        id="new user's e-mail",
    ),
    pytest.param(
        "anonymous",
        "POST",
        "/auth/login",
        lambda doc, etag: {"json": {"email": DOTTED, "password": "long enough password"}},
        ("email", "415 characters", "an e-mail address of at most 254 characters"),
        id="sign-in e-mail",
    ),
    pytest.param(
        "clinician",
        "GET",
        "/patients",
        lambda doc, etag: {"headers": {"X-Forwarded-For": "a" * 65}},
        ("X-Forwarded-For", "a" * 65, "a client address of at most 64 characters"),
        id="client address",
    ),
    pytest.param(
        "anonymous",
        "POST",
        "/auth/login",
        lambda doc, etag: {
            "json": {"email": "nobody@clinic.test", "password": "not the password"},
            "headers": {"X-Forwarded-For": "a" * 65},
        },
        ("X-Forwarded-For", "a" * 65, "a client address of at most 64 characters"),
        id="failed sign-in's client address",
    ),
]


@pytest.mark.parametrize(("role", "method", "url", "request_of", "problem"), LONG_TEXTS)
def test_text_longer_than_the_database_keeps_is_refused(
    clinic, patient, example_doc, stored_rows, role, method, url, request_of, problem
):
    path, value, expected = problem

    def stored() -> dict[str, object]:
        return stored_rows(clinic.server.store, clinic.id)

    with clinic.client(role) as client:
        before = stored()
        response = client.request(method, url, **request_of(example_doc("stage-2-trd"), patient))
        found = invalid(response, path)
        assert (found["value"], found["expected"]) == (value, expected)
        assert stored() == before


def test_a_user_without_a_name_is_named_by_as_much_of_the_address_as_a_name_holds(clinic):
    address = "a" * 215 + "@clinic.example"
    with clinic.client("admin") as admin:
        added = admin.post(
            "/users", json={"email": address, "role": "viewer", "password": "long enough password"}
        )
    assert added.status_code == 201, added.text
    assert (added.json()["email"], added.json()["name"]) == (address, address[:200])
