"""End to end in a real browser: Playwright driving Debian's chromium over the demo clinic.

Covers signing in, finding a patient, adding a PHQ-9 by keyboard and seeing the chart and
verdicts change, planning a course and recording a session, the import preview (the core
format and FHIR), the quality measures page, the report download, keyboard use, labels,
tablet width, and that nothing is loaded from elsewhere or refused by the page's
Content-Security-Policy. Each page's screenshot is saved in
``docs/screenshots/``; the server's "today" is fixed, so they are the same on every run.

Chromium is Debian's (``/usr/bin/chromium``, or ``TRDNAV_TEST_CHROMIUM``); Playwright never
downloads a browser. Without it these tests are skipped, except under CI (``CI`` set), where
that is a failure.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from PIL import Image, ImageChops

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path(os.environ.get("TRDNAV_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
CLINICIAN = "clinician@demo.trdnav.org"
ADMIN = "admin@demo.trdnav.org"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs Debian's chromium at {CHROMIUM} (see .ci/services.sh)")
        pytest.skip(f"no chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page, and everything it asked for or complained about."""

    def __init__(self, page, base_url):
        self.page = page
        self.host = urlparse(base_url).netloc
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on(
            "response",
            lambda r: r.status == 404 and self.errors.append(f"404 for {r.url}"),
        )
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def check(self):
        foreign = [u for u in self.requests if urlparse(u).netloc not in (self.host, "")]
        assert foreign == [], foreign
        # a form sent back with its problems (422), and the page of a patient called "nobody"
        # asked for on purpose (404), are logged by the browser; nothing else may be
        expected = (
            "Failed to load resource: the server responded with a status of 422",
            "Failed to load resource: the server responded with a status of 404",
            "404 for ",
        )
        unexpected = [e for e in self.errors if not e.startswith(expected)]
        assert unexpected == []
        assert all("/nobody" in e for e in self.errors if e.startswith("404 for "))
        assert len([e for e in self.errors if e.startswith(expected[1])]) == len(
            [e for e in self.errors if e.startswith("404 for ")]
        )


def new_page(browser, demo_server, width=1280, height=800):
    context = browser.new_context(
        viewport={"width": width, "height": height},
        base_url=demo_server.url,
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    return context, Watched(page, demo_server.url)


@pytest.fixture
def clinician(browser, demo_server):
    context, watched = new_page(browser, demo_server)
    sign_in(watched.page, CLINICIAN, demo_server.password)
    yield watched.page
    watched.check()
    context.close()


@pytest.fixture
def admin(browser, demo_server):
    context, watched = new_page(browser, demo_server)
    sign_in(watched.page, ADMIN, demo_server.password)
    yield watched.page
    watched.check()
    context.close()


def sign_in(page, email, password):
    page.goto("/app/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url("**/app/patients")


def shot(page, name, full_page=False, mask=()):
    """Save a screenshot as docs/screenshots/NAME.png (quantised, to keep it small). A picture
    that differs from the saved one only by rendering noise is not rewritten."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    picture = page.screenshot(
        full_page=full_page, animations="disabled", mask=list(mask), mask_color="#ffffff"
    )
    fresh = Image.open(io.BytesIO(picture))
    fresh = fresh.convert("RGB")
    if path.exists():
        with Image.open(path) as saved:
            old = saved.convert("RGB")
        if old.size == fresh.size:
            diff = ImageChops.difference(old, fresh).convert("L").point(lambda v: v > 48 and 255)
            if sum(diff.histogram()[255:]) < fresh.size[0] * fresh.size[1] // 1000:
                return
    fresh.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def unlabelled_fields(page):
    return page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(el => el.type !== 'hidden' && !el.hidden)
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.getAttribute('aria-labelledby'))
            .map(el => el.name || el.id)"""
    )


def test_sign_in_then_find_a_patient(browser, demo_server):
    context, watched = new_page(browser, demo_server)
    page = watched.page
    page.goto("/")
    page.wait_for_url("**/app/login?next=/app/patients")
    assert unlabelled_fields(page) == []
    shot(page, "01-sign-in")
    page.get_by_label("E-mail").fill(CLINICIAN)
    page.get_by_label("Password").fill(demo_server.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/app/patients")
    # the suicide-item alert is the first thing on the page
    banner = page.locator("main .alert-banner")
    assert banner.is_visible()
    assert "Suicide-item alert" in banner.inner_text()
    first_row = page.locator("table.patients tbody tr").first
    assert "alerting" in first_row.get_attribute("class")
    assert unlabelled_fields(page) == []
    shot(page, "02-patient-list")
    page.get_by_label("Name, MRN or id").fill("keller")
    page.get_by_label("Name, MRN or id").press("Enter")
    page.wait_for_url("**/app/patients?q=keller**")
    assert page.locator("table.patients tbody tr").count() == 1
    page.locator("table.patients").get_by_role("link", name="Maria Keller").click()
    page.wait_for_url("**/app/patients/demo-stage-2")
    assert page.locator("h1").inner_text() == "Maria Keller"
    alert = page.locator("main .alert-banner").bounding_box()
    heading = page.locator("h1").bounding_box()
    assert alert["y"] < heading["y"]
    assert page.locator('figure[data-instrument="PHQ-9"][data-state="improving"]').is_visible()
    assert page.locator("#option-tms .verdict-caution").is_visible()
    shot(page, "03-patient-dashboard")
    page.locator("#option-tms summary", has_text="What to expect").click()
    assert page.locator("#option-tms").get_by_text("Headache").is_visible()
    watched.check()
    context.close()


def test_the_measures_page_lists_demo_patients_by_population(clinician):
    """Before any test imports a patient, so that the page (and its screenshot) shows the
    demo as seeded."""
    page = clinician
    page.get_by_role("link", name="Quality measures").click()
    page.wait_for_url("**/app/measures")
    assert unlabelled_fields(page) == []
    assert page.get_by_label("Measure", exact=True).input_value() == "cms159"
    assert page.get_by_label("Measurement year").input_value() == "2025"
    numerator = page.locator("#group-numerator")
    row = numerator.locator('tr[data-patient="demo-fhir-remission"]')
    assert row.is_visible()
    assert "Numerator: yes" in row.inner_text()
    assert "score 3, below 5: remission" in row.inner_text()
    assert page.locator('#group-exclusion tr[data-patient="demo-fhir-hospice"]').is_visible()
    assert page.locator('#group-not-met tr[data-patient="demo-fhir-ongoing"]').is_visible()
    assert "Score: 50.0 %" in page.locator(".measure-score").inner_text()
    shot(page, "18-quality-measures", full_page=True)
    # by keyboard: another measure, the year typed, Enter
    page.get_by_label("Measure", exact=True).select_option("cms2")
    page.get_by_label("Measurement year").fill("2025")
    page.get_by_label("Measurement year").press("Enter")
    page.wait_for_url("**/app/measures?measure=cms2&period=2025")
    assert page.locator('#group-exception tr[data-patient="demo-fhir-declined"]').is_visible()
    page.locator("#group-numerator").get_by_role("link", name="Theo Marsh").click()
    page.wait_for_url("**/app/patients/demo-fhir-ongoing")
    assert page.locator("h1").inner_text() == "Theo Marsh"


def test_a_phq9_entered_by_keyboard_changes_the_chart_and_the_verdicts(clinician):
    page = clinician
    page.goto("/app/patients/demo-worsening")
    assert page.locator('figure[data-instrument="PHQ-9"]').get_attribute("data-state") == (
        "worsening"
    )
    assert page.locator("#option-ect .verdict").inner_text() == "NOT YET"
    assert page.locator("main .alert-banner").count() == 0
    page.get_by_role("link", name="Add measurement").click()
    page.wait_for_url("**/measurements/new")
    assert unlabelled_fields(page) == []
    # item by item with the keyboard: Tab into each item, arrows choose the answer
    answers = [1, 1, 0, 1, 0, 0, 1, 0, 1]
    page.locator("#first-answer").focus()
    for index, answer in enumerate(answers):
        if index:
            page.keyboard.press("Tab")
        if answer == 0:
            page.keyboard.press("Space")
        for _ in range(answer):
            page.keyboard.press("ArrowRight")
    running = page.locator("#running-total")
    assert running.inner_text().startswith("Total 5 of 27: mild.")
    assert "Suicide item positive" in running.inner_text()
    shot(page, "04-measurement-form")
    page.keyboard.press("Enter")  # submits the form from the last answer
    page.wait_for_url("**/app/patients/demo-worsening#scores")
    assert (
        "added: total 5 (mild). The suicide item is positive" in page.locator(".flash").inner_text()
    )
    assert page.locator("main .alert-banner").is_visible()
    assert page.locator('figure[data-instrument="PHQ-9"]').get_attribute("data-state") == (
        "improving"
    )
    assert page.locator("#option-ect .verdict").inner_text() == "ELIGIBLE"
    assert page.locator("#option-esketamine .verdict").inner_text() == "ELIGIBLE"
    assert page.locator("#option-ketamine .verdict").inner_text() == "CAUTION"


def test_planning_a_course_and_recording_a_session(clinician):
    page = clinician
    page.goto("/app/patients/demo-single")
    page.get_by_role("link", name="Plan a course: ECT").click()
    page.get_by_label(re.compile("ECT, three times a week")).check()
    page.get_by_label("First day").fill("2026-02-23")
    page.get_by_label("Session time (clinic time)").fill("08:30")
    assert unlabelled_fields(page) == []
    shot(page, "05-plan-a-course")
    page.get_by_role("button", name="Plan the course").click()
    page.wait_for_url(re.compile(r".*/courses/\d+$"))
    assert "planned: 12 sessions from 2026-02-23" in page.locator(".flash").inner_text()
    # record session 1 in a few clicks: its planned time is filled in
    page.get_by_label("Electrode placement").select_option("right_unilateral")
    page.get_by_label("Charge (mC)").fill("120")
    page.get_by_label("Headache").select_option("mild")
    page.get_by_role("button", name="Record session 1").click()
    assert "Session 1 recorded as delivered." in page.locator(".flash").inner_text()
    assert page.locator(".month a.s-delivered", has_text="1").is_visible()
    assert page.get_by_role("heading", name=re.compile("Record session 2")).is_visible()
    assert page.get_by_label("Charge (mC)").input_value() == "120"  # kept from session 1
    assert unlabelled_fields(page) == []
    with page.expect_download() as download:
        page.get_by_role("link", name="Download calendar (.ics)").click()
    assert Path(download.value.path()).read_text().startswith("BEGIN:VCALENDAR")


def test_a_course_in_progress_with_its_alerts(clinician):
    page = clinician
    page.goto("/app/patients/demo-esketamine")
    alerts = page.locator(".course-alerts").inner_text()
    assert "Blood pressure 152/94 before dosing" in alerts
    assert "Severe dissociation" in alerts
    page.get_by_role("link", name="Esketamine nasal spray, TRD schedule").first.click()
    assert "Suicide-item alert in this course" in page.locator(".alert-banner").inner_text()
    page.goto("/app/patients/demo-tms")
    page.get_by_role("link", name="TMS, 10 Hz rTMS").first.click()
    assert page.locator(".month a.s-missed").count() == 1
    shot(page, "06-course-calendar")


def test_the_import_preview_lists_every_problem_before_storing(clinician, tmp_path):
    page = clinician
    doc = json.loads((ROOT / "examples" / "stage-2-trd.json").read_text())
    doc["id"] = "browser-import"
    bad = json.loads(json.dumps(doc))
    bad["medication_trials"][1]["drug"] = "venlafaxin"
    bad["measurements"][0]["items"][8] = 7
    page.goto("/app/patients")
    page.get_by_role("link", name="Import", exact=True).click()
    assert unlabelled_fields(page) == []
    shot(page, "07-import")
    page.get_by_label("File").set_input_files(
        {"name": "bad.json", "mimeType": "application/json", "buffer": json.dumps(bad).encode()}
    )
    page.get_by_role("button", name="Preview the import").click()
    summary = page.locator(".error-summary").inner_text()
    assert "2 problems: nothing will be stored" in summary
    assert "medication_trials[1].drug" in summary
    assert "measurements[0].items[8]" in summary
    assert page.get_by_role("button", name="Store this patient").count() == 0
    shot(page, "08-import-problems")
    page.get_by_label("File").set_input_files(
        {"name": "good.json", "mimeType": "application/json", "buffer": json.dumps(doc).encode()}
    )
    page.get_by_role("button", name="Preview the import").click()
    assert page.locator(".preview-ok").is_visible()
    assert "'Zoloft' is stored as 'sertraline'" in page.locator("main").inner_text()
    shot(page, "09-import-preview")
    page.get_by_role("button", name="Store this patient").click()
    page.wait_for_url("**/app/patients/browser-import")
    assert "imported" in page.locator(".flash").inner_text()


def test_a_fhir_bundle_is_imported_through_the_preview(clinician, demo_server):
    from trdnav.clinic import demo_measures
    from trdnav.knowledge import load_knowledge
    from trdnav.knowledge.fhir_codes import load_fhir_codes

    page = clinician
    [bundle] = [
        b
        for b in demo_measures.measure_bundles(
            load_knowledge(), load_fhir_codes(), demo_server.settings.today()
        )
        if b["entry"][0]["resource"]["id"] == "demo-fhir-ongoing"
    ]
    text = json.dumps(bundle).replace("demo-fhir-ongoing", "browser-fhir")
    text = text.replace("Theo Marsh", "Tom Fisher")
    bad = json.loads(text)
    del bad["entry"][0]["resource"]["birthDate"]
    bad["entry"].append({"resource": {"resourceType": "MedicationUsage", "id": "mu1"}})
    page.goto("/app/import")
    page.get_by_label("File").set_input_files(
        {
            "name": "bad.json",
            "mimeType": "application/fhir+json",
            "buffer": json.dumps(bad).encode(),
        }
    )
    page.get_by_role("button", name="Preview the import").click()
    summary = page.locator(".error-summary").inner_text()
    assert "nothing will be stored until the file is fixed" in summary
    assert "bad.json: entry[0].resource.birthDate" in summary
    assert "MedicationUsage is FHIR R5" in summary
    assert page.get_by_role("button", name="Store this patient").count() == 0
    page.get_by_label("File").set_input_files(
        {"name": "tom.json", "mimeType": "application/fhir+json", "buffer": text.encode()}
    )
    page.get_by_role("button", name="Preview the import").click()
    assert page.locator(".preview-ok").is_visible()
    main = page.locator("main").inner_text()
    assert "Read as: FHIR R4 Bundle or resource (JSON)" in main
    assert "What the FHIR import did" in main
    assert "Encounter/browser-fhir-encounter-1" in main
    assert page.locator("table.report-mapped tbody tr").count() >= 5
    shot(page, "19-import-fhir-preview", full_page=True)
    page.get_by_role("button", name="Store this patient").click()
    page.wait_for_url("**/app/patients/browser-fhir")
    assert "Tom Fisher imported: 2 trials" in page.locator(".flash").inner_text()
    # its Encounters were kept: the measures find the office visit
    page.goto("/app/measures?measure=cms159&period=2025")
    assert page.locator('#group-not-met tr[data-patient="browser-fhir"]').is_visible()


def test_reports_print_and_download(clinician, tmp_path):
    page = clinician
    page.goto("/app/patients/demo-stage-2")
    page.get_by_role("link", name="Clinician summary").click()
    page.wait_for_url("**/report/summary")
    assert page.locator("svg.score-chart").count() == 2
    assert "Not a medical device." in page.locator("footer").inner_text()
    shot(page, "10-clinician-summary")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename == "trdnav-summary-demo-stage-2.pdf"
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF-")
    page.get_by_role("link", name="Patient handout").click()
    page.wait_for_url("**/report/handout")
    assert "is not a medical device" in page.locator("main").inner_text()
    shot(page, "11-patient-handout")
    media = page.evaluate("() => matchMedia('print').matches")
    assert media is False
    page.emulate_media(media="print")
    assert page.locator(".report-toolbar").is_hidden()


def test_administration_pages(admin):
    page = admin
    page.get_by_role("link", name="Clinic settings").click()
    assert unlabelled_fields(page) == []
    shot(page, "12-clinic-settings")
    page.get_by_role("link", name="Users").click()
    assert page.locator("table tbody tr").count() == 3
    assert unlabelled_fields(page) == []
    shot(page, "13-users")


def test_keyboard_first_and_readable_on_a_tablet(browser, demo_server):
    context, watched = new_page(browser, demo_server, width=800, height=1100)
    page = watched.page
    sign_in(page, CLINICIAN, demo_server.password)
    page.keyboard.press("Tab")
    skip = page.evaluate("() => document.activeElement.textContent")
    assert skip == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    for path in ("/app/patients", "/app/patients/demo-stage-2", "/app/patients/demo-tms/courses/1"):
        page.goto(path)
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        culprits = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(el => el.getBoundingClientRect().right > 801)
                .slice(0, 5).map(el => el.tagName + '.' + el.className)"""
        )
        assert wide <= 800, (path, wide, culprits)
    page.goto("/app/patients/demo-stage-2")
    shot(page, "14-patient-dashboard-tablet")
    watched.check()
    context.close()


def test_every_demo_patient_page_renders(browser, demo_server):
    """Every verdict, alert and chart state of the demo, as the browser shows them."""
    context, watched = new_page(browser, demo_server)
    page = watched.page
    sign_in(page, CLINICIAN, demo_server.password)
    ids = [
        "demo-stage-2",
        "demo-refractory",
        "demo-acute-risk",
        "demo-remission",
        "demo-no-scores",
        "demo-single",
        "demo-tms",
        "demo-ect-remission",
        "demo-ect-plateau",
        "demo-ketamine",
    ]
    verdicts, states = set(), set()
    for pid in ids:
        page.goto(f"/app/patients/{pid}")
        for cls in page.locator(".option .verdict").evaluate_all(
            "els => els.map(e => e.className)"
        ):
            verdicts.add(cls.split("verdict-")[-1])
        states |= set(
            page.locator("figure[data-state]").evaluate_all("els => els.map(e => e.dataset.state)")
        )
    assert verdicts == {"eligible", "caution", "contraindicated", "not_yet", "trial_only"}
    assert {"none", "single", "improving", "remission", "worsening"} <= states
    watched.check()
    context.close()


def test_every_form_labels_its_fields_and_names_its_errors(clinician):
    page = clinician
    base = "/app/patients/demo-remission"
    for path in (
        f"{base}/trials/new",
        f"{base}/procedures/new",
        f"{base}/psychotherapy/new",
        f"{base}/measurements/new?instrument=QIDS-SR16",
        f"{base}/measurements/new?instrument=MADRS",
        f"{base}/measurements/new?instrument=HAMD-17",
        f"{base}/edit",
        f"{base}/courses/new",
        "/app/new-patient",
    ):
        page.goto(path)
        assert unlabelled_fields(page) == [], path
    page.goto("/app/new-patient")
    shot(page, "15-new-patient")
    page.goto(f"{base}/trials/new")
    page.get_by_label("Drug").fill("sertralin")
    page.get_by_label("Daily dose (mg)").fill("a lot")
    page.get_by_role("button", name="Add the medication trial").click()
    summary = page.locator("#error-summary")
    assert summary.is_visible()
    assert page.evaluate("() => document.activeElement.id") == "error-summary"
    assert "did you mean 'sertraline'?" in page.locator("#drug-error").inner_text()
    assert page.get_by_label("Drug").get_attribute("aria-invalid") == "true"
    summary.get_by_role("link", name=re.compile("^Daily dose")).click()
    assert page.evaluate("() => location.hash") == "#daily_dose_mg"
    shot(page, "16-trial-form-errors")
    page.goto("/app/patients/nobody")
    assert page.locator("h1").inner_text() == "Not found"
    shot(page, "17-not-found", mask=[page.get_by_text(re.compile(r"^Request "))])
