"""A new patient, and corrections to a patient's details, episode and conditions."""

import re
from html import unescape

from trdnav.clinic import patients


def test_a_new_patient_is_created_from_the_form(clinic):
    with clinic.client() as browser:
        missing = browser.form("/app/new-patient", "/app/new-patient", {"sex": "female"})
        assert missing.status_code == 422
        for field in ("birth_date", "episode-onset"):
            assert f'id="{field}-error"' in missing.text
        created = browser.form(
            "/app/new-patient",
            "/app/new-patient",
            {
                "id": "fresh-1",
                "name": "Nia Fresh",
                "birth_date": "1990-02-03",
                "sex": "female",
                "episode.onset": "2025-01-06",
                "episode.severity": "severe",
                "episode.recurrent": "yes",
                "conditions": ["seizure_disorder"],
            },
        )
        assert created.status_code == 303
        assert created.headers["location"] == "/app/patients/fresh-1"
        page = browser.get("/app/patients/fresh-1").text
        assert "Patient created." in page
        assert "severe, recurrent" in page
        again = browser.form(
            "/app/new-patient",
            "/app/new-patient",
            {
                "id": "fresh-1",
                "birth_date": "1990-02-03",
                "sex": "f",
                "episode.onset": "2025-01-06",
                "episode.severity": "mild",
            },
        )
        assert again.status_code == 422
        assert "A patient with id fresh-1 already exists in this clinic." in again.text
        assert 'id="id-error"' in again.text


def test_a_condition_added_to_the_patient_changes_the_verdicts(clinic, stage2):
    base = f"/app/patients/{stage2}"
    with clinic.client() as browser:
        form = browser.get(f"{base}/edit").text
        assert re.search(r'value="seizure_disorder" checked', form)
        fields = {
            "birth_date": "1979-04-12",
            "sex": "female",
            "episode.onset": "2023-09-01",
            "episode.severity": "moderate",
            "episode.recurrent": "yes",
            "conditions": ["seizure_disorder", "cochlear_implant"],
        }
        saved = browser.form(f"{base}/edit", f"{base}/edit", fields)
        assert saved.status_code == 303
        page = browser.get(base).text
        tms = re.search(r'id="option-tms".*?</article>', page, re.S).group(0)
        assert "verdict-contraindicated" in tms
        assert "Contraindicated: Cochlear implant" in tms
        bad = browser.form(f"{base}/edit", f"{base}/edit", fields | {"episode.onset": "2999-01-01"})
        assert bad.status_code == 422
        assert 'id="episode-onset-error"' in bad.text
        stale = browser.post(
            f"{base}/edit",
            data={"csrf": re.search(r'name="csrf" value="([^"]+)"', page).group(1)}
            | {"version": "1"}
            | fields,
        )
        assert stale.status_code == 412
        assert "Changed by someone else" in stale.text
    view = patients.get_patient(clinic.server.store, clinic.actor, stage2)
    assert view["conditions"] == ["seizure_disorder", "cochlear_implant"]


def submitted(form_html):
    """The fields a browser submits for a form as the page shows it: text and hidden inputs,
    ticked checkboxes and radios, and each select's selected option."""
    fields = {}
    for tag in re.finditer(r"<input([^>]*)>", form_html):
        attrs = tag.group(1)
        name = re.search(r'name="([^"]+)"', attrs)
        if not name:
            continue
        kind = re.search(r'type="([^"]+)"', attrs)
        if kind and kind.group(1) in ("checkbox", "radio") and " checked" not in attrs:
            continue
        value = re.search(r'value="([^"]*)"', attrs)
        fields.setdefault(name.group(1), []).append(unescape(value.group(1)) if value else "")
    for select in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form_html, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', select.group(2))
        fields[select.group(1)] = [chosen.group(1) if chosen else ""]
    return fields


def ketamine(browser, base):
    page = browser.get(base).text
    return re.search(r'id="option-ketamine".*?</article>', page, re.S).group(0)


def test_saving_the_form_keeps_a_listed_condition_it_does_not_offer(clinic, example):
    """Psychotic features listed directly (as an imported history may list them) are shown on
    the form, ticked: saving a correction keeps them, and unticking removes them."""
    doc = example("stage-2-trd")
    doc["id"] = "listed-psychosis"
    doc["conditions"] = ["psychotic_features"]
    doc["episode"]["psychotic_features"] = False
    clinic.add_patient(doc)
    base = "/app/patients/listed-psychosis"
    with clinic.client() as browser:
        assert "Caution: Psychotic features in the current episode" in ketamine(browser, base)
        form = browser.get(f"{base}/edit").text
        assert re.search(r'name="conditions" value="psychotic_features" checked', form)
        assert "Also listed for this patient" in form
        fields = submitted(form) | {"mrn": ["NEW-MRN-1"]}
        saved = browser.post(f"{base}/edit", data=fields)
        assert saved.status_code == 303, saved.text
        view = patients.get_patient(clinic.server.store, clinic.actor, "listed-psychosis")
        assert view["mrn"] == "NEW-MRN-1"
        assert view["conditions"] == ["psychotic_features"]
        assert "Caution: Psychotic features in the current episode" in ketamine(browser, base)

        # unticked on purpose: removed
        form = browser.get(f"{base}/edit").text
        fields = submitted(form)
        fields["conditions"] = [c for c in fields["conditions"] if c != "psychotic_features"]
        assert browser.post(f"{base}/edit", data=fields).status_code == 303
    view = patients.get_patient(clinic.server.store, clinic.actor, "listed-psychosis")
    assert view["conditions"] == []


def test_a_form_without_the_version_says_so_in_words(clinic, stage2):
    base = f"/app/patients/{stage2}"
    with clinic.client() as browser:
        form = browser.get(f"{base}/edit").text
        fields = submitted(form)
        del fields["version"]
        missing = browser.post(f"{base}/edit", data=fields)
        assert missing.status_code == 428
        assert "did not carry the patient&#39;s version" in missing.text
        assert "If-Match" not in missing.text
        crafted = browser.post(f"{base}/edit", data=fields | {"version": "²"})
        assert crafted.status_code == 422
        assert "version: got &#34;²&#34;; expected the patient&#39;s version" in crafted.text
    assert patients.get_patient(clinic.server.store, clinic.actor, stage2)["version"] == 1
