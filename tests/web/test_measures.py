"""The quality measures page: the clinic's patients under the population the measure puts
them in, with the evidence, on the same rules as the API's GET /measures/{measure}."""

import re
from html import unescape

import pytest

from trdnav.clinic import audit, demo_measures, fhir
from trdnav.knowledge.fhir_codes import load_fhir_codes


@pytest.fixture
def measured(clinic, kb):
    """The demo's four FHIR patients in the clinic; the measurement year they are set in."""
    codes = load_fhir_codes()
    today = clinic.server.settings.today()
    for bundle in demo_measures.measure_bundles(kb, codes, today):
        fhir.import_fhir_patient(
            clinic.server.store, clinic.actor, kb, codes, bundle, today, name="test"
        )
    return today.year - 1


def group(page, key):
    """The patient ids listed in one population group of the page."""
    found = re.search(rf'<section[^>]*id="group-{key}".*?</section>', page, re.S)
    assert found, key
    return re.findall(r'<tr data-patient="([^"]+)">', found.group(0))


def test_cms159_lists_each_patient_under_its_population_with_the_evidence(
    clinic, measured, example
):
    clinic.add_patient(example("stage-2-trd"))  # core format: no office visit, not counted
    with clinic.client("viewer") as browser:
        response = browser.get("/app/measures", params={"measure": "cms159"})
        assert response.status_code == 200
        page = response.text
    assert f"{measured}-01-01 to {measured}-12-31" in page  # the last complete year
    assert group(page, "numerator") == ["demo-fhir-remission"]
    assert group(page, "not-met") == ["demo-fhir-ongoing"]
    assert group(page, "exclusion") == ["demo-fhir-hospice"]
    assert sorted(group(page, "outside")) == ["demo-fhir-declined", "example-stage-2"]
    assert 'id="group-exception"' not in page  # CMS159 has no exceptions
    assert "Score: <strong>50.0 %</strong>" in page
    assert '<a href="/app/patients/demo-fhir-remission">Maya Lind</a>' in page
    text = unescape(page)
    assert "score 17, above 9: the index assessment" in text
    assert "score 3, below 5: remission" in text
    assert "exclusion.hospice</code> Hospice Encounter (305336008), finished" in text


def test_cms2_has_exceptions_and_a_period_is_chosen(clinic, measured):
    with clinic.client() as browser:
        page = browser.get("/app/measures", params={"measure": "cms2", "period": measured}).text
        assert group(page, "numerator") == ["demo-fhir-remission", "demo-fhir-ongoing"]
        assert group(page, "not-met") == ["demo-fhir-hospice"]
        assert group(page, "exception") == ["demo-fhir-declined"]
        assert "Score: <strong>66.7 %</strong>" in page
        assert '<option value="cms2" selected>' in page
        earlier = browser.get("/app/measures", params={"measure": "cms2", "period": 1990}).text
        assert group(earlier, "numerator") == []
        assert "Score: <strong>none</strong>" in earlier


def test_the_choice_is_checked_and_named(clinic):
    with clinic.client() as browser:
        bad = browser.get("/app/measures", params={"measure": "cms99", "period": "20x6"})
    assert bad.status_code == 422
    assert "2 problems" in bad.text
    assert "Measure: Choose one of the measures listed." in bad.text
    assert "Measurement year: Enter a year from 1900 to 2200" in bad.text
    assert 'aria-invalid="true"' in bad.text
    assert "Patients in each population" not in bad.text


def test_another_clinic_sees_only_its_own_patients_and_reads_are_audited(
    make_clinic, clinic, measured
):
    other = make_clinic()
    with other.client("viewer") as browser:
        page = browser.get("/app/measures").text
    assert "demo-fhir" not in page
    assert "(0 measured)" in page
    with clinic.client("viewer") as browser:
        browser.get("/app/measures", params={"measure": "cms2", "period": measured})
    events = audit.query(
        clinic.server.store, clinic.actor, audit.AuditQuery(action="measure.read", limit=100)
    )
    [event] = events
    assert event["user_email"] == clinic.emails["viewer"]
    assert event["detail"] == {"measure": "cms2", "period": measured, "patients": 4}


def test_everything_shown_is_escaped(clinic, kb):
    codes = load_fhir_codes()
    today = clinic.server.settings.today()
    bundle = demo_measures.measure_bundles(kb, codes, today)[0]
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    patient["name"] = [{"text": "<script>alert(1)</script>"}]
    fhir.import_fhir_patient(clinic.server.store, clinic.actor, kb, codes, bundle, today)
    with clinic.client() as browser:
        page = browser.get("/app/measures").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
