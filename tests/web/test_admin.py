"""Administration pages: the clinic's calendar settings and its users."""

import re

from trdnav.clinic import accounts


def test_clinic_settings_are_changed_and_checked(clinic):
    with clinic.client("admin") as browser:
        page = browser.get("/app/settings").text
        assert 'name="working_days" value="mon" checked' in page
        bad = browser.form(
            "/app/settings",
            "/app/settings",
            {
                "timezone": "Mars/Olympus",
                "holiday_country": "US",
                "closures": "2026-12-24\nnot a date",
                "working_days": ["mon", "tue"],
            },
        )
        assert bad.status_code == 422
        assert 'id="timezone-error"' in bad.text
        assert "an IANA time zone" in bad.text
        assert 'id="closures-error"' in bad.text
        good = browser.form(
            "/app/settings",
            "/app/settings",
            {
                "timezone": "Europe/London",
                "holiday_country": "GB",
                "holiday_subdivision": "ENG",
                "closures": "2026-12-24\n2026-12-31",
                "working_days": ["mon", "tue", "wed", "thu"],
            },
        )
        assert good.status_code == 303
        page = browser.get("/app/settings").text
    assert "Clinic settings saved." in page
    assert 'value="Europe/London"' in page
    assert 'name="working_days" value="fri" checked' not in page
    assert "2026-12-24\n2026-12-31" in page
    assert "No course has been planned again after a change to these settings" in page


def test_users_are_added_disabled_and_reset(clinic):
    with clinic.client("admin") as browser:
        added = browser.form(
            "/app/users", "/app/users", {"email": "new@web.test", "name": "New", "role": "viewer"}
        )
        assert added.status_code == 200
        password = re.search(r'<code class="password">([^<]+)</code>', added.text).group(1)
        assert password not in added.headers.get("set-cookie", "")
        with clinic.client(None) as newcomer:
            assert newcomer.login("new@web.test", password).status_code == 303
        duplicate = browser.form(
            "/app/users", "/app/users", {"email": "new@web.test", "role": "viewer"}
        )
        assert duplicate.status_code == 422
        assert "exists already" in duplicate.text
        assert "Expected a user with" not in duplicate.text  # the reason, not an expectation
        short = browser.form(
            "/app/users",
            "/app/users",
            {"email": "other@web.test", "role": "viewer", "password": "short"},
        )
        assert "at least 10 characters" in short.text
        disabled = browser.form("/app/users", "/app/users/new%40web.test/active", {"active": "no"})
        assert disabled.status_code == 303
        page = browser.get("/app/users").text
        assert "new@web.test disabled; their sessions have ended." in page
        reset = browser.form("/app/users", "/app/users/new%40web.test/password", {})
        assert reset.status_code == 200
        assert "New password for <strong>new@web.test</strong>" in reset.text
        own = browser.form(
            "/app/users", f"/app/users/{clinic.emails['admin']}/active", {"active": "no"}
        )
        assert own.status_code == 422
        assert "you cannot disable or reset yourself here" in own.text
    users = {u.email: u for u in accounts.list_users(clinic.server.store, clinic.actor)}
    assert not users["new@web.test"].active
    assert users[clinic.emails["admin"]].active


def test_a_closure_on_a_planned_session_moves_it_and_says_so(clinic, example):
    pid = clinic.add_patient(example("refractory-recurrent"))["id"]
    with clinic.client("admin") as browser:
        planned = browser.form(
            f"/app/patients/{pid}/courses/new",
            f"/app/patients/{pid}/courses",
            {"template": "ect-mwf", "start": "2027-03-01", "session_time": "08:00"},
        )
        assert planned.status_code == 303, planned.text
        saved = browser.form(
            "/app/settings",
            "/app/settings",
            {
                "timezone": "UTC",
                "holiday_country": "US",
                "closures": "2027-03-03",
                "working_days": ["mon", "tue", "wed", "thu", "fri"],
            },
        )
        assert saved.status_code == 303
        page = browser.get("/app/settings").text
        course = browser.get(planned.headers["location"]).text
    assert (
        "Clinic settings saved. 1 active course had sessions on days now closed and was "
        f"planned again: ect-mwf for {pid} (11 sessions moved). Tell the patients: the list "
        "below has their new dates."
    ) in page
    assert "plan version 2" in course
    # the list of courses planned again names every moved session, with links
    listed = page[page.index('id="replanned"') :]
    course_id = planned.headers["location"].rsplit("/", 1)[1]
    assert f'<a href="/app/patients/{pid}/courses/{course_id}">ect-mwf</a>' in listed
    assert "<td>2027-03-03</td>" in listed
    assert "<li>session 2: 2027-03-03 &rarr; 2027-03-05</li>" in listed
    assert listed.count("<li>session ") == 11
