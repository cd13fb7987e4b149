"""FHIR over real HTTP: importing a patient from a Bundle (all or nothing, with a report),
exporting a stored patient as FHIR, and the quality measures over stored patients."""

import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from trdnav.api import create_app  # noqa: F401  (the server fixtures build the app)
from trdnav.core.intake import parse_history
from trdnav.fhir.assessment_export import bundle
from trdnav.fhir.bundles import document_resources, read_resources
from trdnav.fhir.export import export_history
from trdnav.fhir.r4 import validate_r4
from trdnav.fhir.resources import patient_records
from trdnav.knowledge import load_knowledge
from trdnav.knowledge.fhir_codes import load_fhir_codes
from trdnav.knowledge.measures import load_measure
from trdnav.measures import MeasurementPeriod
from trdnav.settings import Settings
from trdnav.store.tables import FhirResource, Patient

from .conftest import run_server

KB = load_knowledge()
CODES = load_fhir_codes()
CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


def fhir_bundle(example_doc, name="stage-2-trd"):
    history = parse_history(example_doc(name), KB)
    return bundle(export_history(history, KB, CODES).resources)


def count(store, table, clinic_id):
    with store.reading() as session:
        query = select(func.count()).select_from(table)
        if table is FhirResource:
            query = query.join(Patient, Patient.pk == FhirResource.patient_pk)
        return session.scalar(query.where(Patient.clinic_id == clinic_id))


def test_import_a_bundle_then_read_assess_and_export_it(api, clinic, example_doc):
    sent = fhir_bundle(example_doc)
    created = api.post("/patients/import/fhir", content=json.dumps(sent), headers=FHIR_JSON)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/patients/example-stage-2"
    assert created.headers["ETag"] == '"1"'
    body = created.json()
    assert body["patient"]["id"] == "example-stage-2"
    assert len(body["patient"]["medication_trials"]) == 4
    assert body["import"]["missing"] == []
    assert body["import"]["resources"] == len(sent["entry"])
    assert count(clinic.server.store, FhirResource, clinic.id) == len(sent["entry"])
    history = api.get("/patients/example-stage-2/history", params={"as_of": "2025-06-02"}).json()
    first = next(e["resource"] for e in sent["entry"] if "effectivePeriod" in e["resource"])
    assert history["medication_trials"][0]["fhir_source"] == [f"MedicationStatement/{first['id']}"]
    from_api = api.get("/patients/example-stage-2/assessment", params={"as_of": "2025-06-02"})
    original = parse_history({**example_doc(), "as_of": "2025-06-02"}, KB)
    from trdnav.core.assessment import assess

    assert from_api.json() == assess(original, KB).to_json()

    exported = api.get("/patients/example-stage-2/fhir", params={"as_of": "2025-06-02"})
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "application/fhir+json"
    resources = list(document_resources(exported.json(), "export", []))
    assert validate_r4(resources, CODES) == []
    with clinic.client("admin") as admin:
        audit = admin.get("/audit", params={"patient_id": "example-stage-2"}).json()
    assert [e["action"] for e in audit] == [
        "patient.import",
        "patient.export",
        "patient.assessment",
        "patient.export",
    ]
    assert audit[0]["detail"]["format"] == "fhir"
    assert audit[-1]["detail"] == {"as_of": "2025-06-02", "format": "fhir"}


def test_bad_fhir_is_refused_with_every_problem_and_nothing_is_stored(api, clinic, example_doc):
    sent = fhir_bundle(example_doc)
    sent["entry"][0]["resource"].pop("birthDate")
    statement = next(i for i, e in enumerate(sent["entry"]) if "effectivePeriod" in e["resource"])
    sent["entry"][statement]["resource"]["status"] = "taking"
    sent["entry"].append({"resource": {"resourceType": "MedicationUsage", "status": "recorded"}})
    refused = api.post("/patients/import/fhir", json=sent)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    paths = {e["path"] for e in refused.json()["errors"]}
    assert paths == {
        "(body): entry[0].resource.birthDate",
        f"(body): entry[{statement}].resource.status",
        f"(body): entry[{len(sent['entry']) - 1}].resource.resourceType",
    }
    assert api.get("/patients").json()["total"] == 0
    assert count(clinic.server.store, FhirResource, clinic.id) == 0
    not_json = api.post("/patients/import/fhir", content=b"{nope", headers=FHIR_JSON)
    assert not_json.status_code == 422
    # a body sent as something else than JSON is refused, as the documents say (it was read)
    body = json.dumps(fhir_bundle(example_doc)).encode()
    for content_type in ("text/plain", "application/xml", None):
        headers = {"content-type": content_type} if content_type else {}
        wrong = api.post("/patients/import/fhir", content=body, headers=headers)
        assert wrong.status_code == 422
        [problem] = wrong.json()["errors"]
        assert (problem["path"], problem["value"]) == ("content-type", content_type)
        assert problem["expected"].startswith("application/json or application/fhir+json")
    assert api.get("/patients").json()["total"] == 0
    charset = {"content-type": "application/fhir+json; charset=utf-8"}
    assert api.post("/patients/import/fhir", content=body, headers=charset).status_code == 201
    two = fhir_bundle(example_doc)
    other = fhir_bundle(example_doc, "refractory-recurrent")
    two["entry"] += other["entry"]
    refused = api.post("/patients/import/fhir", json=two)
    assert refused.status_code == 422
    assert "the resources of one patient" in refused.json()["errors"][0]["expected"]


@pytest.fixture(scope="module")
def small_limit_server(tmp_path_factory):
    from trdnav.store import migrate
    from trdnav.store.database import Store

    url = f"sqlite:///{tmp_path_factory.mktemp('limit') / 'trdnav.db'}"
    migrate.upgrade(url)
    store = Store(url)
    yield from run_server(Settings(database_url=url, timezone="UTC", fhir_max_bundle_mb=1), store)
    store.dispose()


def test_a_bundle_over_the_size_limit_is_refused_unread(small_limit_server):
    from trdnav.clinic import accounts
    from trdnav.clinic.actor import Actor

    store = small_limit_server.store
    clinic = accounts.add_clinic(store, "Limit Clinic")
    accounts.add_user(
        store,
        Actor.command_line(clinic.id),
        email="c@limit.test",
        name="C",
        role="clinician",
        password="limit password",
    )
    token = httpx.post(
        f"{small_limit_server.url}/auth/login",
        json={"email": "c@limit.test", "password": "limit password"},
    ).json()["access_token"]
    padding = [
        {"resource": {"resourceType": "Basic", "id": f"b{i}", "code": {"text": "x" * 200}}}
        for i in range(12_000)
    ]
    big = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": padding}).encode()
    assert len(big) > 2 * 1024 * 1024
    refused = httpx.post(
        f"{small_limit_server.url}/patients/import/fhir",
        content=big,
        headers={"Authorization": f"Bearer {token}", **FHIR_JSON},
        timeout=60,
    )
    assert refused.status_code == 422
    [error] = refused.json()["errors"]
    assert error["path"] == "(body)"
    assert "at most 1 MB" in error["expected"]
    with store.reading() as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == 0


def measure_json(measure_id, folder):
    found = patient_records(read_resources([folder]))
    return load_measure(measure_id).evaluate(found, MeasurementPeriod.year(2026)).to_json()


@pytest.mark.parametrize("measure_id", ["cms159", "cms2"])
def test_measures_over_the_stewards_bundles_imported_through_the_api(make_clinic, measure_id):
    mine, other = make_clinic(), make_clinic()
    files = sorted((CONFORMANCE / measure_id).rglob("*.json"))
    with mine.client("clinician") as api:
        for path in files:
            created = api.post(
                "/patients/import/fhir", content=path.read_bytes(), headers=FHIR_JSON
            )
            assert created.status_code == 201, (path.name, created.text)
    with other.client("clinician") as api:
        created = api.post(
            "/patients/import/fhir", content=files[0].read_bytes(), headers=FHIR_JSON
        )
        assert created.status_code == 201
    with mine.client("viewer") as viewer:
        got = viewer.get(f"/measures/{measure_id}", params={"period": 2026})
    assert got.status_code == 200, got.text
    assert got.json() == measure_json(measure_id, CONFORMANCE / measure_id)
    with other.client("viewer") as viewer:
        theirs = viewer.get(f"/measures/{measure_id}", params={"period": 2026}).json()
    assert [p["patient"] for p in theirs["patients"]] == [got.json()["patients"][0]["patient"]]
    with mine.client("admin") as admin:
        events = admin.get("/audit", params={"action": "measure.read"}).json()
    assert events[-1]["detail"] == {"measure": measure_id, "period": 2026, "patients": len(files)}


def test_measures_include_patients_stored_in_the_core_format(api, example_doc):
    doc = example_doc("stage-2-trd")
    assert api.post("/patients/import", json=doc).status_code == 201
    result = api.get("/measures/cms159", params={"period": 2024}).json()
    assert [p["patient"] for p in result["patients"]] == ["example-stage-2"]
    assert api.get("/measures/cms99", params={"period": 2024}).status_code == 404
    assert api.get("/measures/cms159", params={"period": "x"}).status_code == 422
