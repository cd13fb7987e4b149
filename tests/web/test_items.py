"""Forms that add, correct and remove history items: validation next to the named field,
the patient's version (a stale form never overwrites), and the assessment recomputed."""

import re

from trdnav.clinic import patients


def field_error(page, field_id):
    found = re.search(
        rf'<p class="field-error" id="{re.escape(field_id)}-error">(.*?)</p>', page, re.S
    )
    return re.sub(r"<[^>]+>", "", found.group(1)).strip() if found else None


def stored(clinic, patient_id):
    return patients.get_patient(clinic.server.store, clinic.actor, patient_id)


def test_adding_a_phq9_item_by_item_updates_scores_and_verdicts(clinic, example):
    doc = example("suicidal-ideation-first-episode")
    doc["measurements"] = [m for m in doc["measurements"] if m["instrument"] == "PHQ-9"]
    acute = clinic.add_patient(doc)["id"]
    base = f"/app/patients/{acute}"
    with clinic.client() as browser:
        before = browser.get(base).text
        assert "Suicide-item alert" in before
        ect = re.search(r'id="option-ect".*?</article>', before, re.S).group(0)
        assert "verdict-eligible" in ect  # open only because of the suicide item
        form = browser.get(f"{base}/measurements/new").text
        assert "1. Little interest or pleasure" in form  # the items' short labels
        assert "suicide item: alert at 1 or more" in form
        assert 'data-scale="' in form  # the running total's data
        items = {f"items[{i}]": "1" for i in range(8)} | {"items[8]": "0"}
        saved = browser.form(
            f"{base}/measurements/new",
            f"{base}/measurements",
            {"instrument": "PHQ-9", "date": clinic.server.settings.today().isoformat(), **items},
        )
        assert saved.status_code == 303
        assert saved.headers["location"] == f"{base}#scores"
        after = browser.get(base).text
    assert "added: total 8 (mild)." in after  # the message
    assert "Suicide-item alert" not in after
    assert re.search(r'data-instrument="PHQ-9" data-state="improving"', after)
    ect = re.search(r'id="option-ect".*?</article>', after, re.S).group(0)
    assert "verdict-not_yet" in ect


def test_an_unanswered_item_is_named_next_to_it(clinic, stage2):
    base = f"/app/patients/{stage2}"
    with clinic.client() as browser:
        items = {f"items[{i}]": "2" for i in range(8)}
        response = browser.form(
            f"{base}/measurements/new",
            f"{base}/measurements",
            {"instrument": "PHQ-9", "date": "2025-05-30", **items},
        )
    assert response.status_code == 422
    page = response.text
    assert "1 problem: nothing was saved" in page
    assert field_error(page, "items-8") == (
        "Error: Missing: an answer to item 9 (Thoughts of death or self-harm)."
    )
    assert '<a href="#items-8">Item 9 (Thoughts of death or self-harm):' in page
    assert 'value="2" checked' in page  # the answers given are kept
    assert "Total" not in re.search(r'id="running-total".*?</p>', page, re.S).group(0)
    assert len(stored(clinic, stage2)["measurements"]) == 4


def test_qids_forms_explain_their_domains(clinic, stage2):
    with clinic.client() as browser:
        page = browser.get(f"/app/patients/{stage2}/measurements/new?instrument=qids").text
    assert "Add a measurement: QIDS-SR16" in page
    assert "items 1, 2, 3, 4; items 6, 7, 8, 9; items 15, 16 each count once" in page


def test_a_trial_form_names_every_bad_field(clinic, stage2):
    base = f"/app/patients/{stage2}"
    with clinic.client() as browser:
        response = browser.form(
            f"{base}/trials/new",
            f"{base}/trials",
            {
                "drug": "sertralin",
                "daily_dose_mg": "lots",
                "start": "2024-06-01",
                "end": "2024-05-01",
                "role": "antidepressant",
                "response": "none",
            },
        )
    assert response.status_code == 422
    page = response.text
    assert "3 problems: nothing was saved" in page
    assert "did you mean &#39;sertraline&#39;?" in field_error(page, "drug")
    assert field_error(page, "daily_dose_mg") == "Error: Expected a number; got &#39;lots&#39;."
    assert "a date on or after the start (2024-06-01)" in field_error(page, "end")
    assert 'aria-invalid="true"' in page
    assert 'value="sertralin"' in page  # what was typed stays in the form


def test_correcting_and_removing_a_trial(clinic, stage2):
    view = stored(clinic, stage2)
    bupropion = next(t for t in view["medication_trials"] if t["drug"] == "bupropion")
    base = f"/app/patients/{stage2}"
    edit = f"{base}/trials/{bupropion['item_id']}/edit"
    with clinic.client() as browser:
        form = browser.get(edit).text
        assert 'value="bupropion"' in form
        assert 'value="150"' in form
        fields = {
            "drug": "bupropion",
            "daily_dose_mg": "300",
            "start": bupropion["start"],
            "end": "",
            "role": "antidepressant",
            "response": "none",
        }
        saved = browser.form(edit, f"{base}/trials/{bupropion['item_id']}", fields)
        assert saved.status_code == 303
        dashboard = browser.get(base).text
        assert "Medication trial corrected." in dashboard
        removed = browser.form(edit, f"{base}/trials/{bupropion['item_id']}/remove", {})
        assert removed.status_code == 303
    after = stored(clinic, stage2)
    assert [t["drug"] for t in after["medication_trials"]] == [
        "sertraline",
        "venlafaxine",
        "aripiprazole",
    ]
    assert after["version"] == view["version"] + 2


def test_a_stale_form_says_so_and_saves_nothing(clinic, stage2, kb):
    base = f"/app/patients/{stage2}"
    with clinic.client() as browser:
        page = browser.get(f"{base}/procedures/new").text
        version = re.search(r'name="version" value="(\d+)"', page).group(1)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        # meanwhile, a colleague adds a measurement
        patients.add_item(
            clinic.server.store,
            clinic.actor,
            kb,
            stage2,
            "measurements",
            {"instrument": "PHQ-9", "date": "2025-05-30", "items": [1] * 9},
            int(version),
            clinic.server.settings.today(),
        )
        response = browser.post(
            f"{base}/procedures",
            data={
                "csrf": csrf,
                "version": version,
                "type": "ECT",
                "start": "2024-07-01",
                "end": "2024-08-01",
                "sessions": "8",
                "response": "partial",
            },
        )
    assert response.status_code == 412
    assert "Changed by someone else" in response.text
    assert "nothing was saved" in response.text
    assert f'<a href="{base}">Reload the patient</a>' in response.text
    assert 'value="8"' in response.text  # the entries are kept
    assert stored(clinic, stage2)["procedures"] == []


def test_psychotherapy_is_added_and_listed(clinic, stage2):
    base = f"/app/patients/{stage2}"
    with clinic.client() as browser:
        response = browser.form(
            f"{base}/psychotherapy/new",
            f"{base}/psychotherapy",
            {"type": "behavioural activation", "start": "2024-07-01", "sessions": "6"},
        )
        assert response.status_code == 303
        page = browser.get(base).text
    assert "behavioural activation" in page
    assert [p["type"] for p in stored(clinic, stage2)["psychotherapy"]] == [
        "CBT",
        "behavioural activation",
    ]


def test_correcting_a_measurement_keeps_its_other_fields(clinic, example):
    doc = example("stage-2-trd")
    doc["measurements"][0]["rater"] = "nurse"  # a field of its own, kept as written
    pid = clinic.add_patient(doc)["id"]
    first = stored(clinic, pid)["measurements"][0]
    base = f"/app/patients/{pid}"
    with clinic.client() as browser:
        edit = f"{base}/measurements/{first['item_id']}/edit"
        page = browser.get(edit).text
        assert "Correct a measurement: PHQ-9" in page
        items = {f"items[{i}]": str(v) for i, v in enumerate(first["items"])} | {"items[0]": "2"}
        saved = browser.form(
            edit,
            f"{base}/measurements/{first['item_id']}",
            {"instrument": "PHQ-9", "date": first["date"], **items},
        )
        assert saved.status_code == 303
    corrected = stored(clinic, pid)["measurements"][0]
    assert corrected["items"][0] == 2
    assert corrected["rater"] == "nurse"


def test_an_answer_that_is_not_a_whole_number_is_named(clinic, stage2):
    base = f"/app/patients/{stage2}"
    with clinic.client() as browser:
        for given in ("²", "--1", "x"):
            items = {f"items[{i}]": "1" for i in range(8)} | {"items[8]": given}
            response = browser.form(
                f"{base}/measurements/new",
                f"{base}/measurements",
                {"instrument": "PHQ-9", "date": "2025-05-30", **items},
            )
            assert response.status_code == 422, (given, response.text)
            error = field_error(response.text, "items-8")
            assert error == f"Error: Expected an integer; got &#39;{given}&#39;.", error
    assert len(stored(clinic, stage2)["measurements"]) == 4


def test_removing_without_the_version_says_so_in_words(clinic, stage2):
    view = stored(clinic, stage2)
    trial = view["medication_trials"][0]
    base = f"/app/patients/{stage2}"
    edit = f"{base}/trials/{trial['item_id']}/edit"
    with clinic.client() as browser:
        removed = browser.form(edit, f"{base}/trials/{trial['item_id']}/remove", {"version": ""})
    assert removed.status_code == 428
    assert "This form did not carry the patient&#39;s version" in removed.text
    assert "If-Match" not in removed.text
    assert stored(clinic, stage2) == view
