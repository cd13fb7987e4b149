"""History items over HTTP: add, correct and remove, each checked against the patient version."""

import pytest

ITEMS = {
    "trials": {
        "drug": "Lexapro",
        "daily_dose_mg": 20,
        "start": "2024-08-01",
        "end": None,
        "role": "antidepressant",
        "response": "unknown",
    },
    "psychotherapy": {"type": "CBT", "start": "2024-08-01", "end": None, "sessions": 3},
    "procedures": {
        "type": "tms",
        "start": "2024-08-01",
        "end": None,
        "sessions": 10,
        "response": "unknown",
    },
    "measurements": {"instrument": "PHQ-9", "date": "2024-08-01", "items": [1] * 9},
}
SECTION = {
    "trials": "medication_trials",
    "psychotherapy": "psychotherapy",
    "procedures": "procedures",
    "measurements": "measurements",
}


@pytest.fixture
def patient(api, example_doc):
    assert api.post("/patients/import", json=example_doc("stage-2-trd")).status_code == 201
    return "/patients/example-stage-2"


@pytest.mark.parametrize("segment", list(ITEMS))
def test_add_correct_remove(api, patient, segment):
    section = SECTION[segment]
    before = len(api.get(patient).json()[section])
    added = api.post(f"{patient}/{segment}", json=ITEMS[segment], headers={"If-Match": '"1"'})
    assert added.status_code == 201, added.text
    item_id = added.json()["item_id"]
    assert added.headers["ETag"] == '"2"'
    assert added.headers["Location"] == f"{patient}/{segment}/{item_id}"
    view = added.json()["patient"]
    assert len(view[section]) == before + 1
    stored = next(i for i in view[section] if i["item_id"] == item_id)
    if segment == "trials":
        assert stored["drug"] == "escitalopram"
    if segment == "procedures":
        assert stored["type"] == "TMS"

    corrected_body = {
        **ITEMS[segment],
        "start" if "start" in ITEMS[segment] else "date": "2024-08-15",
    }
    corrected = api.put(
        f"{patient}/{segment}/{item_id}", json=corrected_body, headers={"If-Match": '"2"'}
    )
    assert corrected.status_code == 200, corrected.text
    row = next(i for i in corrected.json()[section] if i["item_id"] == item_id)
    assert "2024-08-15" in (row.get("start"), row.get("date"))

    removed = api.delete(f"{patient}/{segment}/{item_id}", headers={"If-Match": '"3"'})
    assert removed.status_code == 200
    assert len(removed.json()[section]) == before
    assert (
        api.delete(f"{patient}/{segment}/{item_id}", headers={"If-Match": '"4"'}).status_code == 404
    )


def test_item_errors_are_relative_to_the_item(api, patient):
    bad = api.post(
        f"{patient}/measurements",
        json={"instrument": "PHQ-9", "date": "2024-13-01", "items": [1] * 8 + [5]},
        headers={"If-Match": '"1"'},
    )
    assert bad.status_code == 422
    assert {e["path"] for e in bad.json()["errors"]} == {"date", "items[8]"}
    bad = api.post(
        f"{patient}/trials",
        json={**ITEMS["trials"], "drug": "zoloftt", "end": "2020-01-01"},
        headers={"If-Match": '"1"'},
    )
    assert {e["path"] for e in bad.json()["errors"]} == {"drug", "end"}
    assert api.get(patient).json()["version"] == 1


def test_a_new_measurement_changes_the_assessment(api, patient):
    before = api.get(f"{patient}/assessment", params={"as_of": "2025-06-02"}).json()
    assert [a["code"] for a in before["alerts"]] == ["suicidal_ideation"]
    api.post(
        f"{patient}/measurements",
        json={"instrument": "PHQ-9", "date": "2025-06-01", "items": [0] * 9},
        headers={"If-Match": '"1"'},
    )
    after = api.get(f"{patient}/assessment", params={"as_of": "2025-06-02"}).json()
    assert after["alerts"] == []
    assert after["outcome"]["PHQ-9"] == {"response": True, "remission": True}


def test_stale_item_write_is_refused(api, patient):
    ok = api.post(
        f"{patient}/measurements", json=ITEMS["measurements"], headers={"If-Match": '"1"'}
    )
    assert ok.status_code == 201
    stale = api.post(
        f"{patient}/measurements", json=ITEMS["measurements"], headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 412
    assert api.get(patient).json()["version"] == 2


def test_an_item_of_another_patient_is_not_found(api, patient, example_doc):
    api.post("/patients/import", json=example_doc("refractory-recurrent"))
    other = api.get("/patients/example-refractory").json()["medication_trials"][0]["item_id"]
    response = api.delete(f"{patient}/trials/{other}", headers={"If-Match": '"1"'})
    assert response.status_code == 404


@pytest.mark.parametrize("value", ['"x"', "*", "W/"])
def test_malformed_if_match(api, patient, value):
    response = api.post(
        f"{patient}/measurements", json=ITEMS["measurements"], headers={"If-Match": value}
    )
    assert response.status_code in (422, 428)
    assert api.get(patient).json()["version"] == 1
