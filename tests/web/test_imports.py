"""The import page: a preview of what will be stored with every problem listed, and nothing
stored until the user stores the previewed history."""

import json
import re
from html import unescape

from trdnav.clinic import patients


def preview(browser, content, name="history.json"):
    page = browser.get("/app/import").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    return browser.post(
        "/app/import/preview",
        data={"csrf": csrf, "format": "core-json"},
        files={"file": (name, content, "application/json")},
    )


def stored_document(page):
    found = re.search(r'<textarea name="document"[^>]*>(.*?)</textarea>', page, re.S)
    return unescape(found.group(1))


def problems(page):
    return re.findall(r'<th scope="row"><code>([^<]+)</code></th>', page)


def listed(clinic, kb):
    return patients.list_patients(
        clinic.server.store,
        clinic.actor,
        kb,
        patients.PatientFilters(),
        clinic.server.settings.today(),
    ).total


def test_every_problem_is_listed_and_nothing_is_stored(clinic, example, kb):
    doc = example("stage-2-trd")
    doc["patient"]["sex"] = ""
    doc["medication_trials"][1]["drug"] = "venlafaxin"
    doc["measurements"][0]["items"][8] = 9
    doc["conditons"] = ["epilepsy"]
    with clinic.client() as browser:
        response = preview(browser, json.dumps(doc).encode())
    assert response.status_code == 422
    page = response.text
    assert "4 problems: nothing will be stored until the file is fixed" in page
    assert sorted(problems(page)) == [
        "conditons",
        "measurements[0].items[8]",
        "medication_trials[1].drug",
        "patient.sex",
    ]
    assert "did you mean &#39;venlafaxine&#39;, &#39;desvenlafaxine&#39;?" in page
    assert "Store this patient" not in page
    assert listed(clinic, kb) == 0


def test_unreadable_files_are_named(clinic):
    with clinic.client() as browser:
        broken = preview(browser, b'{"id": "x",')
        assert broken.status_code == 422
        assert "file (line 1, column 12)" in broken.text
        assert preview(browser, b"[1, 2]").status_code == 422
        assert "a JSON object" in preview(browser, b"[1, 2]").text
        assert "UTF-8 encoded JSON" in preview(browser, b"\xff\xfe\x00").text
        page = browser.get("/app/import").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        nothing = browser.post("/app/import/preview", data={"csrf": csrf}, files={})
        assert nothing.status_code == 422
        assert "a file to upload" in nothing.text


def test_json_nested_too_deeply_is_named(clinic, example, kb):
    doc = example("stage-2-trd")
    doc["note"] = json.loads("[" * 70 + "]" * 70)
    with clinic.client() as browser:
        for content in (
            b'{"a":' * 5000 + b"1" + b"}" * 5000,  # deeper than the JSON parser goes
            json.dumps(doc).encode(),  # read, but deeper than a history is
        ):
            for fmt in ("core-json", "fhir-r4", ""):
                page = browser.get("/app/import").text
                csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
                response = browser.post(
                    "/app/import/preview",
                    data={"csrf": csrf, "format": fmt},
                    files={"file": ("deep.json", content, "application/json")},
                )
                assert response.status_code == 422, (fmt, response.status_code)
                assert "JSON nested at most 64 levels" in response.text
    assert listed(clinic, kb) == 0


def test_the_previewed_history_is_what_is_stored(clinic, example):
    doc = example("stage-2-trd")
    del doc["id"]  # a new id is made, and shown before storing
    with clinic.client() as browser:
        response = preview(browser, json.dumps(doc).encode())
        assert response.status_code == 200
        page = response.text
        assert "No problems found." in page
        assert (
            "medication_trials[0].drug: &#39;Zoloft&#39; is stored as &#39;sertraline&#39;" in page
        )
        assert "What trdnav will conclude" in page
        assert "Thase-Rush II" in page
        document = stored_document(page)
        stored_doc = json.loads(document)
        assert stored_doc["as_of"] == clinic.server.settings.today().isoformat()
        new_id = stored_doc["id"]
        assert f"<dd>{new_id}</dd>" in page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        stored = browser.post(
            "/app/import", data={"csrf": csrf, "document": document, "filename": "h.json"}
        )
        assert stored.status_code == 303
        assert stored.headers["location"] == f"/app/patients/{new_id}"
        dashboard = browser.get(stored.headers["location"]).text
        assert "imported: 4 trials, 0 procedures, 1 psychotherapy courses, 4 measurements" in (
            dashboard
        )
        # storing it again is refused: its id is taken now
        again = browser.post(
            "/app/import", data={"csrf": csrf, "document": document, "filename": "h.json"}
        )
        assert again.status_code == 409
        assert "exists already" in again.text
        taken = preview(browser, document.encode())
        assert "an id that no patient of this clinic has already" in taken.text
    view = patients.get_patient(clinic.server.store, clinic.actor, new_id)
    assert view["clinician"]["email"] == clinic.emails["clinician"]
    assert view["medication_trials"][0]["drug"] == "sertraline"


def test_an_administrator_chooses_the_responsible_clinician(clinic, example):
    with clinic.client("admin") as browser:
        page = preview(browser, json.dumps(example("refractory-recurrent")).encode()).text
        assert f'<option value="{clinic.emails["clinician"]}"' in page
        assert f'<option value="{clinic.emails["viewer"]}"' not in page
        document = stored_document(page)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        stored = browser.post(
            "/app/import",
            data={"csrf": csrf, "document": document, "clinician": clinic.emails["clinician"]},
        )
        assert stored.status_code == 303
    view = patients.get_patient(clinic.server.store, clinic.actor, "example-refractory")
    assert view["clinician"]["email"] == clinic.emails["clinician"]


# FHIR R4 Bundles: the same preview, with the FHIR import report, stored with their resources


def fhir_bundle(clinic, kb, which=0):
    """One of the demo's FHIR patients: a Bundle with office visits and screens the
    history does not hold (the measures read them)."""
    from trdnav.clinic import demo_measures
    from trdnav.knowledge.fhir_codes import load_fhir_codes

    today = clinic.server.settings.today()
    return demo_measures.measure_bundles(kb, load_fhir_codes(), today)[which]


def resources_of(bundle, kind):
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_a_fhir_bundle_is_previewed_with_its_report_then_stored_with_its_resources(clinic, kb):
    from trdnav.clinic import measures
    from trdnav.knowledge.fhir_codes import load_fhir_codes

    bundle = fhir_bundle(clinic, kb)
    text = json.dumps(bundle)
    with clinic.client() as browser:
        response = preview(browser, text.encode(), name="maya.json")  # format: recognised
        page = browser.post(
            "/app/import/preview",
            data={"csrf": re.search(r'name="csrf" value="([^"]+)"', response.text).group(1)},
            files={"file": ("maya.json", text.encode(), "application/fhir+json")},
        ).text
        assert "Read as: FHIR R4 Bundle or resource (JSON)" in page
        assert "No problems found." in page
        assert "What the FHIR import did" in page
        assert "<dd>demo-fhir-remission</dd>" in page
        assert "<dd>Maya Lind</dd>" in page
        assert "Medication trials (2)" in page
        assert "Measurements (4)" in page
        assert "a resource type trdnav does not read" in page  # the Encounters, ignored
        assert "Encounter/demo-fhir-remission-encounter-1" in page
        assert "What trdnav will conclude" in page
        assert listed(clinic, kb) == 0
        sent = stored_document(page)
        assert json.loads(sent) == bundle  # the Bundle itself goes back, to be read again
        assert 'name="format" value="fhir-r4"' in page
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        stored = browser.post(
            "/app/import",
            data={"csrf": csrf, "document": sent, "format": "fhir-r4", "filename": "maya.json"},
        )
        assert stored.status_code == 303, stored.text[-2000:]
        assert stored.headers["location"] == "/app/patients/demo-fhir-remission"
        again = browser.post(
            "/app/import",
            data={"csrf": csrf, "document": sent, "format": "fhir-r4", "filename": "maya.json"},
        )
        assert again.status_code == 409
        assert "exists already" in again.text
    view = patients.get_patient(clinic.server.store, clinic.actor, "demo-fhir-remission")
    assert view["clinician"]["email"] == clinic.emails["clinician"]
    assert len(view["measurements"]) == 4
    # the Encounters were kept with the patient: CMS159 finds the office visit
    found = measures.clinic_measure_view(
        clinic.server.store,
        clinic.actor,
        kb,
        load_fhir_codes(),
        "cms159",
        clinic.server.settings.today().year - 1,
        clinic.server.settings.today(),
    )
    [result] = [p.result for p in found.patients if p.id == "demo-fhir-remission"]
    assert result.to_json()["numerator"] == 1


def test_bad_fhir_is_refused_naming_every_problem_and_nothing_is_stored(clinic, kb):
    bundle = fhir_bundle(clinic, kb)
    del resources_of(bundle, "Patient")[0]["birthDate"]
    resources_of(bundle, "Condition")[0]["clinicalStatus"] = "active"
    bundle["entry"].append(
        {"resource": {"resourceType": "MedicationUsage", "id": "mu1", "status": "recorded"}}
    )
    with clinic.client() as browser:
        page = browser.post(
            "/app/import/preview",
            data={"csrf": csrf_on(browser)},
            files={"file": ("bad.json", json.dumps(bundle).encode(), "application/json")},
        )
        assert page.status_code == 422
        found = problems(page.text)
        assert "bad.json: entry[0].resource.birthDate" in found
        assert "bad.json: entry[1].resource.clinicalStatus" in found
        last = len(bundle["entry"]) - 1
        assert f"bad.json: entry[{last}].resource.resourceType" in found
        assert "MedicationUsage is FHIR R5" in unescape(page.text)
        assert "the patient&#39;s birth date" in page.text
        assert "Store this patient" not in page.text
        # a Bundle of another FHIR version
        r5 = fhir_bundle(clinic, kb)
        r5["type"] = "subscription-notification"
        refused = browser.post(
            "/app/import/preview",
            data={"csrf": csrf_on(browser), "format": "fhir-r4"},
            files={"file": ("r5.json", json.dumps(r5).encode(), "application/json")},
        )
        assert refused.status_code == 422
        assert "r5.json: type" in problems(refused.text)
        assert "a Bundle.type of FHIR R4" in refused.text
        # storing a changed document reads it again: nothing is stored
        csrf = csrf_on(browser)
        stored = browser.post(
            "/app/import",
            data={"csrf": csrf, "document": json.dumps(bundle), "format": "fhir-r4"},
        )
        assert stored.status_code == 422
        assert "Not stored" in stored.text
    assert listed(clinic, kb) == 0


def test_a_fhir_file_over_the_limit_is_refused_unread(own_server, clinic_on, kb):
    clinic = clinic_on(own_server(fhir_max_bundle_mb=1))
    bundle = fhir_bundle(clinic, kb)
    resources_of(bundle, "Patient")[0]["text"] = {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml">' + "x" * 1_100_000 + "</div>",
    }
    with clinic.client() as browser:
        page = browser.post(
            "/app/import/preview",
            data={"csrf": csrf_on(browser)},
            files={"file": ("big.json", json.dumps(bundle).encode(), "application/json")},
        )
    assert page.status_code == 422
    assert problems(page.text) == ["file"]
    assert "more than 1 MB" in page.text
    assert "a file of at most 1 MB; import bulk FHIR data from NDJSON files" in page.text
    assert listed(clinic, kb) == 0


def csrf_on(browser):
    page = browser.get("/app/import").text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)
