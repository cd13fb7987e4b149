"""Patients over real HTTP: import, read, list, change with versions, delete and restore."""

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from trdnav.store.tables import MedicationTrial, Patient

TRDNAV = Path(sys.executable).parent / "trdnav"


def test_import_read_and_assess_matches_the_command_line(api, example_doc, tmp_path):
    doc = example_doc("stage-2-trd")
    created = api.post("/patients/import", json=doc)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/patients/example-stage-2"
    assert created.headers["ETag"] == '"1"'
    body = created.json()
    assert body["id"] == "example-stage-2"
    assert len(body["medication_trials"]) == 4
    assert all("item_id" in t for t in body["medication_trials"])

    read = api.get("/patients/example-stage-2")
    assert read.status_code == 200
    assert read.headers["ETag"] == '"1"'

    from_api = api.get("/patients/example-stage-2/assessment", params={"as_of": "2025-06-02"})
    assert from_api.status_code == 200
    exported = api.get("/patients/example-stage-2/history", params={"as_of": "2025-06-02"})
    path = tmp_path / "exported.json"
    path.write_text(exported.text, encoding="utf-8")
    cli = subprocess.run(
        [str(TRDNAV), "assess", str(path), "--json"], capture_output=True, text=True, check=True
    )
    assert from_api.json() == json.loads(cli.stdout)
    original = subprocess.run(
        [str(TRDNAV), "assess", "-", "--json"],
        capture_output=True,
        text=True,
        check=True,
        input=json.dumps(doc),
    )
    assert from_api.json() == json.loads(original.stdout)


def test_assessment_defaults_to_today(api, example_doc):
    api.post("/patients/import", json=example_doc("stage-2-trd"))
    result = api.get("/patients/example-stage-2/assessment").json()
    assert result["as_of"] == datetime.now(UTC).date().isoformat()


def test_assessment_defaults_to_the_clinics_today(clinic, api, example_doc):
    """The server runs in UTC. In Kiritimati (UTC+14) and Pago Pago (UTC-11): at any hour
    one of the two is not on UTC's date."""
    assert api.post("/patients/import", json=example_doc("stage-2-trd")).status_code == 201
    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):
        with clinic.client("admin") as admin:
            assert admin.patch("/clinic/settings", json={"timezone": zone}).status_code == 200
        for _ in range(2):  # computed, then kept
            result = api.get("/patients/example-stage-2/assessment").json()
            assert result["as_of"] == datetime.now(ZoneInfo(zone)).date().isoformat()


def test_an_invalid_import_stores_nothing_and_lists_every_problem(api, clinic, example_doc):
    doc = example_doc("stage-2-trd")
    doc["medication_trials"][1]["drug"] = "venlafaxin"
    doc["measurements"][0]["items"][8] = 9
    doc["episode"]["severity"] = "awful"
    response = api.post("/patients/import", json=doc)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 422
    assert problem["type"] == "/problems/invalid-input"
    paths = {e["path"] for e in problem["errors"]}
    assert paths == {"medication_trials[1].drug", "measurements[0].items[8]", "episode.severity"}
    drug = next(e for e in problem["errors"] if e["path"] == "medication_trials[1].drug")
    assert drug["value"] == "venlafaxin"
    assert "venlafaxine" in drug["expected"]
    assert api.get("/patients/example-stage-2").status_code == 404
    with clinic.server.store.reading() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Patient).where(Patient.clinic_id == clinic.id)
            )
            == 0
        )


def test_duplicate_ids_conflict_and_nothing_changes(api, example_doc):
    doc = example_doc("stage-2-trd")
    assert api.post("/patients/import", json=doc).status_code == 201
    again = api.post("/patients/import", json=doc)
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/conflict"
    assert api.get("/patients/example-stage-2").json()["version"] == 1


def test_create_without_id_generates_one(api):
    doc = {
        "patient": {"birth_date": "1990-01-01", "sex": "female", "name": "New Person"},
        "episode": {
            "onset": "2025-01-01",
            "severity": "mild",
            "psychotic_features": False,
            "recurrent": False,
        },
    }
    response = api.post("/patients", json=doc)
    assert response.status_code == 201, response.text
    new_id = response.json()["id"]
    assert api.get(f"/patients/{new_id}").json()["name"] == "New Person"


def test_update_needs_the_current_version(api, example_doc):
    api.post("/patients/import", json=example_doc("stage-2-trd"))
    missing = api.patch("/patients/example-stage-2", json={"name": "A. Patient"})
    assert missing.status_code == 428
    ok = api.patch(
        "/patients/example-stage-2",
        json={"name": "A. Patient", "episode": {"severity": "severe"}},
        headers={"If-Match": '"1"'},
    )
    assert ok.status_code == 200, ok.text
    assert ok.headers["ETag"] == '"2"'
    assert ok.json()["episode"]["severity"] == "severe"
    stale = api.patch(
        "/patients/example-stage-2", json={"name": "Someone Else"}, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert stale.json()["type"] == "/problems/stale-version"
    assert api.get("/patients/example-stage-2").json()["name"] == "A. Patient"


def test_an_empty_name_or_record_number_is_none_and_stays_so(api, example_doc):
    """Stored as empty text, an MRN came back as none (null) at the next change of any
    other field: the same patient read two ways."""
    api.post(
        "/patients/import",
        json={
            **example_doc("stage-2-trd"),
            "patient": {
                "birth_date": "1979-04-12",
                "sex": "female",
                "name": "A. Patient",
                "mrn": "M-1",
            },
        },
    )
    cleared = api.patch(
        "/patients/example-stage-2", json={"mrn": " ", "name": ""}, headers={"If-Match": '"1"'}
    )
    assert (cleared.json()["mrn"], cleared.json()["name"]) == (None, None)
    later = api.patch(
        "/patients/example-stage-2", json={"sex": "male"}, headers={"If-Match": '"2"'}
    )
    assert (later.json()["mrn"], later.json()["name"], later.json()["sex"]) == (None, None, "male")


def test_a_refused_change_names_the_fields_it_sent(api, example_doc):
    """A birth date after today and an empty sex were reported at patient.birth_date and
    patient.sex, fields of the history the request does not have."""
    api.post("/patients/import", json=example_doc("stage-2-trd"))
    bad = api.patch(
        "/patients/example-stage-2",
        json={"birth_date": "2099-01-01", "sex": ""},
        headers={"If-Match": '"1"'},
    )
    assert bad.status_code == 422
    paths = {e["path"] for e in bad.json()["errors"]}
    assert {"birth_date", "sex"} <= paths
    assert not any(path.startswith("patient.") for path in paths)


def test_update_is_validated_like_an_import(api, example_doc):
    api.post("/patients/import", json=example_doc("stage-2-trd"))
    bad = api.patch(
        "/patients/example-stage-2",
        json={"conditions": ["seizure_disordr"], "episode": {"onset": "2030-01-01"}},
        headers={"If-Match": '"1"'},
    )
    assert bad.status_code == 422
    assert {e["path"] for e in bad.json()["errors"]} == {"conditions[0]", "episode.onset"}
    assert api.get("/patients/example-stage-2").json()["version"] == 1


def test_conditions_change_the_verdicts(api, example_doc):
    api.post("/patients/import", json=example_doc("stage-2-trd"))
    api.patch(
        "/patients/example-stage-2",
        json={"conditions": ["cochlear_implant"]},
        headers={"If-Match": '"1"'},
    )
    result = api.get("/patients/example-stage-2/assessment", params={"as_of": "2025-06-02"}).json()
    tms = next(o for o in result["options"] if o["treatment"] == "tms")
    assert tms["verdict"] == "contraindicated"


def test_soft_delete_and_admin_restore(clinic, api, example_doc):
    api.post("/patients/import", json=example_doc("stage-2-trd"))
    assert api.delete("/patients/example-stage-2").status_code == 428
    assert api.delete("/patients/example-stage-2", headers={"If-Match": '"1"'}).status_code == 204
    assert api.get("/patients/example-stage-2").status_code == 404
    assert api.get("/patients", params={"q": "example-stage-2"}).json()["total"] == 0
    assert api.post("/patients/example-stage-2/restore").status_code == 403
    with clinic.client("admin") as admin:
        listed = admin.get("/patients", params={"deleted": "true"}).json()
        assert [p["id"] for p in listed["items"]] == ["example-stage-2"]
        restored = admin.post("/patients/example-stage-2/restore")
        assert restored.status_code == 200
    assert api.get("/patients/example-stage-2").status_code == 200
    with clinic.server.store.reading() as session:
        trials = session.scalar(
            select(func.count())
            .select_from(MedicationTrial)
            .join(Patient)
            .where(Patient.clinic_id == clinic.id)
        )
    assert trials == 4


def test_list_filters_and_pagination(api, example_doc):
    for name in ("stage-2-trd", "suicidal-ideation-first-episode", "refractory-recurrent"):
        assert api.post("/patients/import", json=example_doc(name)).status_code == 201
    everyone = api.get("/patients").json()
    assert everyone["total"] == 3
    # alerts first
    assert [p["summary"]["open_alerts"] > 0 for p in everyone["items"]] == [True, True, False]

    def ids(**params):
        return sorted(p["id"] for p in api.get("/patients", params=params).json()["items"])

    assert ids(trd="true") == ["example-refractory", "example-stage-2"]
    assert ids(trd="false") == ["example-acute-risk"]
    assert ids(stage_min=5) == ["example-refractory"]
    assert ids(stage_min=1, stage_max=2) == ["example-acute-risk", "example-stage-2"]
    assert ids(alerts="true") == ["example-acute-risk", "example-stage-2"]
    assert ids(alerts="false") == ["example-refractory"]
    assert ids(q="REFRACT") == ["example-refractory"]
    # searched as typed: % and _ once matched anything (every patient)
    assert ids(q="%") == ids(q="_") == ids(q="example_stage") == ids(q="\\") == []
    assert ids(q="e-stage") == ["example-stage-2"]
    page = api.get("/patients", params={"limit": 2, "offset": 2}).json()
    assert (page["total"], len(page["items"])) == (3, 1)
    bad = api.get("/patients", params={"stage_min": 9, "limit": 0})
    assert bad.status_code == 422
    assert {e["path"] for e in bad.json()["errors"]} == {"query.stage_min", "query.limit"}


def test_clinician_filter(clinic, example_doc):
    with clinic.client("admin") as admin:
        admin.post(
            "/patients/import",
            json=example_doc("stage-2-trd"),
            params={"clinician": clinic.emails["clinician"]},
        )
        admin.post("/patients/import", json=example_doc("refractory-recurrent"))
        mine = admin.get("/patients", params={"clinician": clinic.emails["clinician"]}).json()
        assert [p["id"] for p in mine["items"]] == ["example-stage-2"]
        bad = admin.post(
            "/patients/import",
            json=example_doc("suicidal-ideation-first-episode"),
            params={"clinician": clinic.emails["viewer"]},
        )
        assert bad.status_code == 422


def test_notes(api, example_doc):
    api.post("/patients/import", json=example_doc("stage-2-trd"))
    added = api.post("/patients/example-stage-2/notes", json={"text": "Discussed TMS."})
    assert added.status_code == 201
    notes = api.get("/patients/example-stage-2/notes").json()
    assert [n["text"] for n in notes] == ["Discussed TMS."]
