"""Course pages: planning from a template (with a review tick for options that are not open),
the calendar, recording sessions in a few clicks with their side effects, re-planning after a
missed session, alerts, stopping and the iCalendar download."""

import re
from datetime import timedelta

from trdnav.clinic import courses, patients


def plan(browser, base, template, start, **extra):
    return browser.form(
        f"{base}/courses/new",
        f"{base}/courses",
        {"template": template, "start": start, "session_time": "08:00", **extra},
    )


def test_planning_and_recording_a_course(clinic, example):
    pid = clinic.add_patient(example("refractory-recurrent"))["id"]
    base = f"/app/patients/{pid}"
    today = clinic.server.settings.today()
    with clinic.client() as browser:
        choices = browser.get(f"{base}/courses/new?treatment=ect").text
        assert "ECT, three times a week" in choices
        assert "TMS, 10 Hz" not in choices  # only the option asked for
        planned = plan(browser, base, "ect-mwf", (today - timedelta(days=14)).isoformat())
        assert planned.status_code == 303, planned.text
        course_url = planned.headers["location"]
        page = browser.get(course_url).text
        assert "ECT, three times a week planned: 12 sessions from" in page
        assert "Record session 1" in page
        assert re.search(r'<a class="s s-planned" href="#session-1"', page)  # the calendar
        assert "HAMD-17 due at this session" in page
        assert 'name="effect.0"' in page  # side effects from the knowledge base
        first = re.search(r'name="delivered_at" value="([^"]+)"', page).group(1)
        hamd = {f"measurements[0].items[{i}]": "2" for i in range(17)}
        recorded = browser.form(
            course_url,
            f"{course_url}/sessions/1",
            {
                "template": "ect-mwf",
                "due": "HAMD-17",
                "status": "delivered",
                "delivered_at": first,
                "parameters.electrode_placement": "right_unilateral",
                "parameters.charge_mc": "150",
                "effect.1": "mild",  # headache
                **hamd,
            },
        )
        assert recorded.status_code == 303, recorded.text
        page = browser.get(course_url).text
        assert "Session 1 recorded as delivered." in page
        assert "Headache (mild)" in page
        assert "Record session 2" in page
        # the next session starts from the last one's settings: one click to record
        assert 'value="150"' in page
        assert re.search(r'value="right_unilateral" selected', page)
        missed = browser.form(
            course_url,
            f"{course_url}/sessions/2",
            {"template": "ect-mwf", "status": "missed"},
        )
        assert missed.status_code == 303
        page = browser.get(course_url).text
        assert "The sessions still owed were planned again." in page
        assert "plan version 2" in page
        assert re.search(r'<a class="s s-missed" href="#session-2"', page)
        ics = browser.get(f"{course_url}/calendar.ics")
        assert ics.status_code == 200
        assert ics.headers["content-type"].startswith("text/calendar")
        assert ics.text.count("BEGIN:VEVENT") == 13  # twelve to deliver and the missed one
        assert "STATUS:CANCELLED" in ics.text
        dashboard = browser.get(base).text
        assert "ECT, three times a week" in dashboard
        assert "1 delivered" in dashboard


def test_a_session_with_bad_values_names_them(clinic, example, kb):
    pid = clinic.add_patient(example("stage-2-trd"))["id"]
    base = f"/app/patients/{pid}"
    today = clinic.server.settings.today()
    with clinic.client() as browser:
        course_url = plan(
            browser, base, "esketamine-trd", (today - timedelta(days=10)).isoformat()
        ).headers["location"]
        page = browser.get(course_url).text
        first = re.search(r'name="delivered_at" value="([^"]+)"', page).group(1)
        response = browser.form(
            course_url,
            f"{course_url}/sessions/1",
            {
                "template": "esketamine-trd",
                "status": "delivered",
                "delivered_at": first,
                "parameters.dose_mg": "84",  # the first dose is 56 mg
                "parameters.bp_before": "high",
                "effect.0": "severe",
            },
        )
        assert response.status_code == 422
        page = response.text
        assert "the first dose of 56 mg" in page
        assert 'id="parameters-bp_before-error"' in page
        assert "a blood pressure as systolic/diastolic" in page
        assert re.search(r'value="severe" selected', page)  # the choice is kept
        view = courses.get_course(
            clinic.server.store,
            clinic.actor,
            kb,
            clinic.server.settings,
            pid,
            int(course_url.rsplit("/", 1)[1]),
        )
        assert view["delivered"] == 0


def test_a_delivery_in_the_future_is_refused(clinic, stage2):
    base = f"/app/patients/{stage2}"
    tomorrow = clinic.server.settings.today() + timedelta(days=1)
    with clinic.client() as browser:
        course_url = plan(browser, base, "cbt-weekly", tomorrow.isoformat()).headers["location"]
        page = browser.get(course_url).text
        when = re.search(r'name="delivered_at" value="([^"]+)"', page).group(1)
        response = browser.form(
            course_url,
            f"{course_url}/sessions/1",
            {"template": "cbt-weekly", "status": "delivered", "delivered_at": when},
        )
    assert response.status_code == 422
    assert "a time on or before today" in response.text


def test_a_session_recorded_already_is_said_plainly(clinic, stage2):
    base = f"/app/patients/{stage2}"
    with clinic.client() as browser:
        course_url = plan(browser, base, "cbt-weekly", "2025-01-06").headers["location"]
        body = {"template": "cbt-weekly", "status": "missed"}
        assert browser.form(course_url, f"{course_url}/sessions/1", body).status_code == 303
        page = browser.get(course_url).text  # a form opened before the session was recorded
        again = browser.form(course_url, f"{course_url}/sessions/1", body)
    assert "Record session 2" in page
    assert again.status_code == 409
    assert "Session 1 is recorded already (missed)." in again.text
    assert "expected session 1" not in again.text


def test_planning_an_option_that_is_not_eligible_needs_a_review_tick(clinic, example, stage2):
    with clinic.client() as browser:
        # TMS is "caution" for the stage-2 patient (seizure disorder)
        base = f"/app/patients/{stage2}"
        page = browser.get(f"{base}/courses/new?treatment=tms").text
        assert "This option is <strong>caution</strong> for this patient" in page
        assert plan(browser, base, "tms-10hz", "2025-01-06").status_code == 422
        assert plan(browser, base, "tms-10hz", "2025-01-06", reviewed="yes").status_code == 303
        eligible = browser.get(f"{base}/courses/new?treatment=ect").text
        assert 'name="reviewed"' not in eligible

    doc = example("stage-2-trd")
    doc["id"] = "implant"
    doc["conditions"] = ["cochlear_implant"]  # contraindicates TMS
    pid = clinic.add_patient(doc)["id"]
    base = f"/app/patients/{pid}"
    with clinic.client() as browser:
        page = browser.get(f"{base}/courses/new?treatment=tms").text
        assert "This option is <strong>contraindicated</strong>" in page
        refused = plan(browser, base, "tms-10hz", "2025-01-06")
        assert refused.status_code == 422
        assert "confirmation that you have reviewed its reasons" in refused.text
        accepted = plan(browser, base, "tms-10hz", "2025-01-06", reviewed="yes")
        assert accepted.status_code == 303


def test_planning_names_missing_choices(clinic, stage2):
    base = f"/app/patients/{stage2}"
    with clinic.client() as browser:
        response = browser.form(
            f"{base}/courses/new",
            f"{base}/courses",
            {"template": "", "start": "soon", "session_time": "25:00"},
        )
    assert response.status_code == 422
    for field in ("template", "start", "session_time"):
        assert f'id="{field}-error"' in response.text


def test_a_second_course_of_a_running_treatment_is_refused_on_the_plan_form(clinic, stage2):
    """It was a bare 409 page: the choices were lost and no field said why."""
    base = f"/app/patients/{stage2}"
    with clinic.client() as browser:
        assert plan(browser, base, "cbt-weekly", "2025-01-06").status_code == 303
        again = plan(browser, base, "cbt-weekly", "2025-02-03")
    assert again.status_code == 409
    assert 'id="template-error"' in again.text
    assert "is active for this patient: stop it before planning another course" in again.text
    assert 'value="2025-02-03"' in again.text  # the entries are kept
    assert "Expected" not in again.text


def test_the_record_of_an_active_course_is_not_changed_by_hand(clinic, stage2):
    base = f"/app/patients/{stage2}"
    with clinic.client() as browser:
        assert plan(browser, base, "cbt-weekly", "2025-01-06").status_code == 303
        store, actor = clinic.server.store, clinic.actor
        [kept] = [
            p
            for p in patients.get_patient(store, actor, stage2)["psychotherapy"]
            if p.get("course")
        ]
        url = f"{base}/psychotherapy/{kept['item_id']}"
        edited = browser.form(
            f"{url}/edit", url, {"type": "IPT", "start": "2020-01-01", "sessions": "3"}
        )
        removed = browser.form(f"{url}/edit", f"{url}/remove", {})
        page = browser.get(removed.headers["location"]).text
    assert edited.status_code == 409
    assert "which is active: record its sessions or stop it" in edited.text
    assert 'value="IPT"' in edited.text  # the entries are kept
    assert "Nothing was removed: this record is kept by course" in page


def test_stopping_a_course(clinic, stage2):
    base = f"/app/patients/{stage2}"
    with clinic.client() as browser:
        course_url = plan(browser, base, "cbt-weekly", "2025-01-06").headers["location"]
        empty = browser.form(course_url, f"{course_url}/stop", {"reason": ""})
        assert empty.status_code == 422
        assert 'id="reason-error"' in empty.text
        stopped = browser.form(course_url, f"{course_url}/stop", {"reason": "patient moved"})
        assert stopped.status_code == 303
        page = browser.get(course_url).text
    assert "Stopped: patient moved" in page
    assert "Record session" not in page
    assert "Stop the course" not in page


def test_planning_shows_every_contraindication_with_its_reason(clinic, example):
    doc = example("stage-2-trd")
    doc["id"] = "two-implants"
    doc["conditions"] = ["cochlear_implant", "implanted_brain_stimulator"]
    clinic.add_patient(doc)
    with clinic.client() as browser:
        page = browser.get("/app/patients/two-implants/courses/new?treatment=tms").text
    group = re.search(r'<div class="template-group">.*?</div>', page, re.S).group(0)
    assert "This option is <strong>contraindicated</strong>" in group
    assert "Contraindicated: Cochlear implant - the magnetic field" in group
    assert "Contraindicated: Implanted brain stimulator - the magnetic field" in group


def phq9(item9):
    return {f"measurements[0].items[{i}]": "1" for i in range(8)} | {
        "measurements[0].items[8]": str(item9)
    }


def test_the_course_page_shows_the_treatments_verdict_now_after_the_suicide_alert(clinic, example):
    doc = example("refractory-recurrent")
    doc["id"] = "later-implant"
    doc["conditions"] = []
    pid = clinic.add_patient(doc)["id"]
    base = f"/app/patients/{pid}"
    today = clinic.server.settings.today()
    with clinic.client() as browser:
        planned = plan(browser, base, "tms-10hz", (today - timedelta(days=14)).isoformat())
        assert planned.status_code == 303, planned.text
        course_url = planned.headers["location"]
        page = browser.get(course_url).text
        assert 'id="verdict"' not in page  # TMS is eligible: nothing to warn of

        # a cochlear implant is recorded after the course was planned
        view = patients.get_patient(clinic.server.store, clinic.actor, pid)
        fields = {
            "birth_date": view["birth_date"],
            "sex": view["sex"],
            "episode.onset": view["episode"]["onset"],
            "episode.severity": view["episode"]["severity"],
            "conditions": ["cochlear_implant", "implanted_brain_stimulator"],
        }
        if view["episode"]["recurrent"]:
            fields["episode.recurrent"] = "yes"
        saved = browser.form(f"{base}/edit", f"{base}/edit", fields)
        assert saved.status_code == 303, saved.text
        page = browser.get(course_url).text
        verdict = re.search(r'<section class="course-verdict.*?</section>', page, re.S).group(0)
        assert 'role="alert"' in verdict
        assert "contraindicated for this patient now" in verdict
        assert "Contraindicated: Cochlear implant" in verdict
        assert "Contraindicated: Implanted brain stimulator" in verdict

        # a positive suicide item at the baseline: its alert comes first, then the verdict
        recorded = deliver_first_tms_session(browser, course_url, page, phq9(2))
        assert recorded.status_code == 303, recorded.text
        page = browser.get(course_url).text
        alert = page.index("Suicide-item alert in this course")
        assert alert < page.index('id="verdict"') < page.index('id="calendar-h"')


def deliver_first_tms_session(browser, course_url, page, answers):
    """Record a TMS course's first session as delivered at its planned time, with the PHQ-9
    it is due (``answers``: the form's measurement fields)."""
    first = re.search(r'name="delivered_at" value="([^"]+)"', page).group(1)
    fields = {"template": "tms-10hz", "due": "PHQ-9", "status": "delivered", "delivered_at": first}
    return browser.form(course_url, f"{course_url}/sessions/1", {**fields, **answers})


def test_the_course_page_shows_a_caution(clinic, stage2):
    base = f"/app/patients/{stage2}"
    with clinic.client() as browser:
        course_url = plan(browser, base, "tms-10hz", "2025-01-06", reviewed="yes").headers[
            "location"
        ]
        page = browser.get(course_url).text
    verdict = re.search(r'<section class="course-verdict.*?</section>', page, re.S).group(0)
    assert "a caution for this patient now" in verdict
    assert "Caution: Seizure disorder" in verdict


def test_crafted_numbers_in_a_session_are_named(clinic, stage2, kb):
    base = f"/app/patients/{stage2}"
    today = clinic.server.settings.today()
    with clinic.client() as browser:
        course_url = plan(
            browser, base, "tms-10hz", (today - timedelta(days=14)).isoformat(), reviewed="yes"
        ).headers["location"]
        page = browser.get(course_url).text
        answers = {**phq9(0), "measurements[0].items[0]": "²"}
        response = deliver_first_tms_session(browser, course_url, page, answers)
        assert response.status_code == 422
        assert 'id="measurements-0-items-0-error"' in response.text
        assert "PHQ-9 item 1: Expected an integer; got &#39;²&#39;." in response.text
        huge = browser.get(f"{base}/courses/99999999999999999999")
        assert huge.status_code == 404
        assert browser.get(f"{base}/courses/0").status_code == 404
        word = browser.get(f"{base}/courses/first")
        assert word.status_code == 422
        assert "path.course_id: got &#39;first&#39;" in word.text
    view = courses.list_courses(clinic.server.store, clinic.actor, kb, stage2)
    assert view[0]["delivered"] == 0
