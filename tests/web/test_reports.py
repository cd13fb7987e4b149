"""Reports: the clinician summary and the patient handout, as HTML and as PDF, each with the
score chart and the not-a-medical-device statement."""

import re
import zlib

import pytest


def test_the_clinician_summary(clinic, stage2, kb):
    with clinic.client("viewer") as browser:
        page = browser.get(f"/app/patients/{stage2}/report/summary").text
    assert "trdnav · clinician summary" in page
    assert "Not a medical device." in page
    assert "Suicide item positive on the latest measurement" in page
    assert "stage II" in page
    assert 'class="chart score-chart state-improving"' in page
    assert 'class="chart timeline"' in page
    for option in kb.treatments.values():
        assert option.name in page
    # sources are numbered once and listed with their links
    references = re.findall(r'<li value="(\d+)">', page)
    assert references == [str(n) for n in range(1, len(references) + 1)]
    assert 'href="https://' in page
    assert f'href="/app/patients/{stage2}/report/summary.pdf"' in page


def test_the_patient_handout_is_plain_language_from_the_knowledge_base(clinic, stage2, kb):
    with clinic.client() as browser:
        page = browser.get(f"/app/patients/{stage2}/report/handout").text
    assert "Your treatment options" in page
    assert "is not a medical device" in page
    assert "nothing here is a decision" in page
    assert "If you are thinking about harming yourself" in page  # the suicide item is positive
    assert "Your latest score was <strong>14</strong>" in page
    assert 'class="chart score-chart' in page
    # every open option: what it involves, how often, what side effects to expect
    open_options = ["psychotherapy", "medication_change", "tms", "ect", "esketamine", "ketamine"]
    for key in open_options:
        t = kb.treatments[key]
        assert t.name in page
        assert t.plain_language.replace("'", "&#39;") in page
        assert t.schedule.summary.replace("'", "&#39;") in page
    assert "Something to check first." in page  # TMS: the seizure disorder
    assert "seizure disorder" in page
    # options that are not open are not offered to the patient; no rule ids or verdict jargon
    for key in ("vns", "dbs", "psilocybin", "botox", "celecoxib"):
        assert kb.treatments[key].name not in page
    assert "rule" not in page.lower().replace("schedule", "")


@pytest.mark.parametrize("kind", ["summary", "handout"])
def test_reports_download_as_pdf(clinic, stage2, kind):
    with clinic.client() as browser:
        response = browser.get(f"/app/patients/{stage2}/report/{kind}.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="trdnav-{kind}-{stage2}.pdf"'
    )
    assert response.content.startswith(b"%PDF-")
    assert len(response.content) > 10_000
    assert pages(response.content) >= 1


def pages(pdf):
    """Page objects in a PDF, looking inside its compressed object streams too."""
    streams = []
    for found in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            streams.append(zlib.decompress(found.group(1)))
        except zlib.error:
            continue
    return len(re.findall(rb"/Type\s*/Page\b", pdf + b"".join(streams)))


def test_a_patient_without_scores_gets_an_empty_chart(clinic, example):
    doc = example("stage-2-trd")
    doc["measurements"] = []
    pid = clinic.add_patient(doc)["id"]
    with clinic.client() as browser:
        summary = browser.get(f"/app/patients/{pid}/report/summary").text
        handout = browser.get(f"/app/patients/{pid}/report/handout").text
    assert "No measurements in this episode" in summary
    assert "There are no questionnaire scores for this episode yet." in handout
