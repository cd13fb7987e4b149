"""A new patient, and corrections to a patient's details, episode and conditions."""

import re

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
        assert "exists already" in again.text


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
