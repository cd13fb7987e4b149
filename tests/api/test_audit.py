"""The audit log: every read and write of patient data, append-only, queryable by admins."""

import csv
import io
import json

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

ACTIONS = [
    "patient.import",
    "patient.read",
    "patient.assessment",
    "item.add",
    "patient.update",
    "patient.export",
    "patient.list",
    "note.add",
    "note.read",
    "patient.delete",
]


def test_every_read_and_write_is_recorded(clinic, api, example_doc):
    api.post("/patients/import", json=example_doc("stage-2-trd"))
    api.get("/patients/example-stage-2")
    api.get("/patients/example-stage-2/assessment")
    api.post(
        "/patients/example-stage-2/measurements",
        json={"instrument": "PHQ-9", "date": "2025-01-01", "items": [0] * 9},
        headers={"If-Match": '"1"'},
    )
    api.patch("/patients/example-stage-2", json={"name": "B"}, headers={"If-Match": '"2"'})
    api.get("/patients/example-stage-2/history")
    api.get("/patients")
    api.post("/patients/example-stage-2/notes", json={"text": "n"})
    api.get("/patients/example-stage-2/notes")
    api.delete("/patients/example-stage-2", headers={"If-Match": '"3"', "X-Request-ID": "req-42"})
    with clinic.client("admin") as admin:
        events = admin.get(
            "/audit", params={"user": clinic.emails["clinician"], "limit": 1000}
        ).json()
    actions = [e["action"] for e in events if e["action"] != "login"]
    assert actions == ACTIONS
    for event in events:
        assert event["user_email"] == clinic.emails["clinician"]
        assert event["remote_addr"] == "127.0.0.1"
        assert event["at"]
    by_action = {e["action"]: e for e in events}
    assert by_action["patient.read"]["patient_id"] == "example-stage-2"
    assert by_action["item.add"]["resource"].startswith("measurements/")
    assert by_action["patient.update"]["detail"] == {"fields": ["name"]}
    assert by_action["patient.delete"]["request_id"] == "req-42"
    assert by_action["patient.list"]["detail"]["returned"] == ["example-stage-2"]


def test_failed_writes_leave_no_audit_trace_of_a_change(clinic, api, example_doc):
    api.post("/patients/import", json=example_doc("stage-2-trd"))
    api.patch("/patients/example-stage-2", json={"name": "B"}, headers={"If-Match": '"7"'})
    with clinic.client("admin") as admin:
        events = admin.get("/audit", params={"action": "patient.update"}).json()
    assert events == []


def test_query_filters_and_export(clinic, api, example_doc):
    api.post("/patients/import", json=example_doc("stage-2-trd"))
    api.post("/patients/import", json=example_doc("refractory-recurrent"))
    api.get("/patients/example-refractory")
    with clinic.client("admin") as admin:
        only = admin.get("/audit", params={"patient_id": "example-refractory"}).json()
        assert [e["action"] for e in only] == ["patient.import", "patient.read"]
        exported = admin.get("/audit/export", params={"format": "csv"})
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        assert {"patient.import", "patient.read"} <= {r["action"] for r in rows}
        lines = admin.get(
            "/audit/export", params={"format": "jsonl", "patient_id": "example-stage-2"}
        ).text
        assert [json.loads(line)["action"] for line in lines.splitlines()] == ["patient.import"]
        empty = admin.get("/audit/export", params={"format": "jsonl", "patient_id": "nobody"})
        assert (empty.status_code, empty.text) == (200, "")
        actions = [e["action"] for e in admin.get("/audit", params={"limit": 1000}).json()]
        assert actions.count("audit.export") == 3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-28T00:00:00", "offset"),
        ("2026-11-28", "offset"),
        ("0001-01-01T00:00:00+01:00", "from year 1 to 9999 in UTC"),
        ("9999-12-31T23:59:59-01:00", "from year 1 to 9999 in UTC"),
    ],
)
@pytest.mark.parametrize("path", ["/audit", "/audit/export", "/cds/feedback"])
def test_a_time_without_offset_or_outside_the_calendar_is_refused(clinic, path, value, expected):
    """Such times were a 500 (and the export a 200 cut short after its header)."""
    with clinic.client("admin") as admin:
        for name in ("since", "until") if path.startswith("/audit") else ("since",):
            response = admin.get(path, params={name: value})
            assert response.status_code == 422, response.text
            [problem] = response.json()["errors"]
            assert (problem["path"], problem["value"]) == (f"query.{name}", value)
            assert expected in problem["expected"]
        utc = admin.get(path, params={"since": "2020-01-01T00:00:00+02:00"})
        assert utc.status_code == 200


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_nobody_can_edit_the_log_through_the_api(clinic, method):
    with clinic.client("admin") as admin:
        response = admin.request(method, "/audit", json={})
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["Allow"] == "GET"


def test_a_method_not_allowed_names_every_method_of_the_path(api):
    """Two routes share /patients (GET and POST): the answer named only the first's."""
    response = api.put("/patients", json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"


def test_the_database_refuses_to_change_the_log(clinic, api, example_doc):
    api.post("/patients/import", json=example_doc("stage-2-trd"))
    engine = clinic.server.store.engine
    for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_log")).scalar() > 0
