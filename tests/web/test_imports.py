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
