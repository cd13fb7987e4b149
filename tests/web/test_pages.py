"""The web app over real HTTP: sign-in and sessions, the list, the dashboard, escaping, error
pages and security headers. (Forms, courses, import, reports and administration have modules
of their own.)"""

import re

import httpx

from trdnav.clinic import accounts

PASSWORD = "correct horse battery"


def csrf_of(html):
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_root_and_pages_send_a_browser_to_sign_in(clinic):
    with clinic.client(None) as browser:
        root = browser.get("/")
        assert root.status_code == 307
        assert root.headers["location"] == "/app"
        page = browser.get("/app/patients?trd=yes")
        assert page.status_code == 303
        assert page.headers["location"] == "/app/login?next=/app/patients%3Ftrd%3Dyes"
        login = browser.get(page.headers["location"])
        assert login.status_code == 200
        assert 'name="next" value="/app/patients?trd=yes"' in login.text
        assert "Sign in to continue." in login.text


def test_sign_in_keeps_the_token_in_a_hardened_cookie(clinic):
    with clinic.client(None) as browser:
        signed_in = browser.login(clinic.emails["clinician"])
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/app/patients"
        cookie = signed_in.headers["set-cookie"]
        assert cookie.startswith("trdnav_session=")
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        assert "Path=/app" in cookie
        assert "Secure" not in cookie  # plain HTTP here; set over HTTPS
        assert "Bearer" not in cookie
        page = browser.get("/app/patients")
        assert page.status_code == 200
        assert clinic.emails["clinician"] in page.text
        out = browser.post("/app/logout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 303
        assert browser.get("/app/patients").status_code == 303


def test_a_copy_of_a_signed_out_session_no_longer_signs_in(clinic):
    """Signing out forgot the cookie only: a copy of it (a shared computer, a proxy log)
    still opened the patient list until the token expired."""
    with clinic.client(None) as browser:
        browser.login(clinic.emails["clinician"])
        page = browser.get("/app/patients")
        copied = browser.cookies.get("trdnav_session")
        assert copied
        browser.post("/app/logout", data={"csrf": csrf_of(page.text)})
    with clinic.client(None) as other:
        other.cookies.set("trdnav_session", copied, path="/app")
        later = other.get("/app/patients")
    assert later.status_code == 303
    assert later.headers["location"].startswith("/app/login")
    with clinic.client(None) as again:  # signing in again works, with a new token
        assert again.login(clinic.emails["clinician"]).status_code == 303
        assert again.get("/app/patients").status_code == 200


def test_sign_in_goes_on_to_the_page_asked_for_and_never_elsewhere(clinic, stage2):
    with clinic.client(None) as browser:
        for wanted, landed in (
            (f"/app/patients/{stage2}", f"/app/patients/{stage2}"),
            ("https://evil.example/", "/app/patients"),
            ("//evil.example/app/", "/app/patients"),
        ):
            browser.cookies.clear()
            page = browser.get("/app/login")
            response = browser.post(
                "/app/login",
                data={
                    "csrf": csrf_of(page.text),
                    "email": clinic.emails["viewer"],
                    "password": PASSWORD,
                    "next": wanted,
                },
            )
            assert response.headers["location"] == landed


def test_a_wrong_password_is_refused_in_words(clinic):
    with clinic.client(None) as browser:
        response = browser.login(clinic.emails["clinician"], "wrong password")
        assert response.status_code == 401
        assert "E-mail or password not recognised." in response.text
        assert "trdnav_session=" in response.headers.get("set-cookie", "trdnav_session=")


def test_sign_in_is_throttled_like_the_api(own_server):
    from trdnav.clinic.actor import Actor

    server = own_server(login_max_failures=2)
    clinic = accounts.add_clinic(server.store, "Throttled")
    accounts.add_user(
        server.store,
        Actor.command_line(clinic.id),
        email="a@t.test",
        name="a",
        role="clinician",
        password=PASSWORD,
    )
    with httpx.Client(base_url=server.url) as browser:

        def attempt(password):
            page = browser.get("/app/login")
            data = {"csrf": csrf_of(page.text), "email": "a@t.test", "password": password}
            return browser.post("/app/login", data=data)

        assert [attempt("nope").status_code for _ in range(2)] == [401, 401]
        refused = attempt(PASSWORD)
        assert refused.status_code == 429
        assert "Too many failed sign-ins. Try again in 15 minutes." in refused.text
        assert refused.headers["retry-after"] == str(15 * 60)
    server.store.dispose()


def test_forms_without_the_sessions_csrf_token_are_refused(clinic, stage2):
    with clinic.client() as browser:
        for token in ("", "forged-token"):
            response = browser.post(
                f"/app/patients/{stage2}/measurements",
                data={"csrf": token, "version": "1", "instrument": "PHQ-9", "date": "2025-01-01"},
            )
            assert response.status_code == 403
            assert "This form has expired or did not come from this page" in response.text
            assert "Your role does not allow this" not in response.text  # it does
        view = browser.get(f"/app/patients/{stage2}")
        assert "version 1" in view.text  # nothing changed
    with clinic.client(None) as stranger:
        # a login form needs the token of the browser's own session too
        response = stranger.post(
            "/app/login",
            data={"csrf": "x", "email": clinic.emails["clinician"], "password": PASSWORD},
        )
        assert response.status_code == 403


def test_disabling_a_user_ends_their_session_at_once(clinic):
    with clinic.client("clinician") as browser:
        assert browser.get("/app/patients").status_code == 200
        accounts.set_active(clinic.server.store, clinic.actor, clinic.emails["clinician"], False)
        ended = browser.get("/app/patients")
        assert ended.status_code == 303
        assert ended.headers["location"].startswith("/app/login")
        assert "Your session has ended" in browser.get(ended.headers["location"]).text


def test_everything_shown_is_escaped(clinic, example):
    evil = "<script>alert(1)</script>"
    doc = example("stage-2-trd")
    doc["id"] = "escape-me"
    doc["patient"] |= {"name": evil, "mrn": '"><img src=x onerror=alert(2)>'}
    doc["psychotherapy"][0]["type"] = "<b onmouseover=alert(3)>CBT</b>"
    clinic.add_patient(doc)
    with clinic.client() as browser:
        pages = [
            "/app/patients",
            "/app/patients?q=%3Cscript%3E",
            "/app/patients/escape-me",
            "/app/patients/escape-me/report/summary",
            "/app/patients/escape-me/report/handout",
            "/app/patients/escape-me/trials/new",
            "/app/patients/escape-me/measurements/new",
            "/app/patients/escape-me/courses/new",
        ]
        for path in pages:
            page = browser.get(path)
            assert page.status_code == 200, path
            assert evil not in page.text, path
            assert "<img src=x" not in page.text, path
            assert "<b onmouseover" not in page.text, path
        dashboard = browser.get("/app/patients/escape-me").text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dashboard
        assert "&lt;b onmouseover=alert(3)&gt;CBT&lt;/b&gt;" in dashboard  # inside the SVG too


def test_the_list_puts_alerts_first_and_filters(clinic, example):
    acute = example("suicidal-ideation-first-episode")  # suicide item positive, not TRD
    acute["patient"]["name"] = "Zed Alert"
    clinic.add_patient(acute)
    calm = example("stage-2-trd")
    calm["patient"] |= {"name": "Amy Calm", "mrn": "MRN-42"}
    calm["measurements"][-2]["items"][8] = 0
    calm["measurements"] = calm["measurements"][:-1]  # no MADRS; PHQ-9 without the item
    calm["measurements"][-1]["items"][8] = 0
    clinic.add_patient(calm)
    clinic.add_patient(example("refractory-recurrent"))
    with clinic.client() as browser:
        page = browser.get("/app/patients").text
        banner = re.search(r'<section class="alert-banner".*?</section>', page, re.S).group(0)
        assert "Suicide-item alert: 1 patient" in banner
        assert "Zed Alert" in banner
        rows = re.findall(
            r"<tr( class=\"alerting\")?>\s*<th scope=\"row\">\s*<a href=\"[^\"]+\">([^<]+)", page
        )
        assert rows[0] == (' class="alerting"', "Zed Alert")  # alerts first, whatever the name
        assert [name for _, name in rows[1:]] == ["Amy Calm", "example-refractory"]

        def names(query):
            listed = browser.get(f"/app/patients?{query}").text
            return re.findall(r'<th scope="row">\s*<a href="[^"]+">([^<]+)', listed)

        assert names("q=mrn-42") == ["Amy Calm"]
        assert names("trd=yes") == ["Amy Calm", "example-refractory"]
        assert names("trd=no") == ["Zed Alert"]
        assert names("stage_min=5") == ["example-refractory"]
        assert names("stage_min=2&stage_max=2") == ["Amy Calm"]
        assert names("alerts=yes") == ["Zed Alert"]
        assert names("severity=severe") == ["Zed Alert", "example-refractory"]
        assert names("course=yes") == []
        assert names("mine=yes") == ["Zed Alert", "Amy Calm", "example-refractory"]
        assert "No patients match the filters." in browser.get("/app/patients?q=nobody").text
        # a choice that is not one is ignored; a number that is not one is named
        assert browser.get("/app/patients?severity=nope&trd=maybe").status_code == 200
        refused = browser.get("/app/patients?stage_min=9&page=x")
        assert refused.status_code == 422
        assert "stage_min: got &#34;9&#34;; expected a whole number from 0 to 5" in refused.text
        assert "page: got &#34;x&#34;; expected a whole number from 1 to" in refused.text


def test_crafted_numbers_in_the_list_address_are_named_not_failed(clinic, stage2):
    with clinic.client("viewer") as browser:
        for query, field in [
            ("page=%C2%B2", "page"),
            ("stage_min=%C2%B2", "stage_min"),
            ("stage_max=--1", "stage_max"),
            ("page=400000000000000000", "page"),
            ("page=99999999999999999999", "page"),
            ("page=0", "page"),
        ]:
            response = browser.get(f"/app/patients?{query}")
            assert response.status_code == 422, (query, response.status_code)
            assert f"{field}: got " in response.text
            assert "expected a whole number from" in response.text
        # the last page there could be is still a page (an empty one)
        last = browser.get("/app/patients?page=85899345")
        assert last.status_code == 200
        assert "No patients on page 85899345: the list has 1 page" in last.text


def test_the_list_has_pages(clinic, example):
    for n in range(27):
        doc = example("stage-2-trd")
        doc["id"] = f"p{n:02d}"
        doc["patient"]["name"] = f"Patient {n:02d}"
        doc["measurements"] = []
        clinic.add_patient(doc)
    with clinic.client("viewer") as browser:
        first = browser.get("/app/patients").text
        assert "Showing 1–25 of 27 patients." in first
        assert 'rel="next"' in first
        second = browser.get("/app/patients?page=2").text
        assert "Showing 26–27 of 27 patients." in second
        assert "Patient 26" in second


def test_the_dashboard_shows_staging_charts_timeline_and_every_option(clinic, stage2, kb):
    with clinic.client("viewer") as browser:
        page = browser.get(f"/app/patients/{stage2}").text
    # the suicide-item alert comes before everything else in the main content
    main = page.split('<main id="main"', 1)[1]
    assert main.index("Suicide-item alert") < main.index("<h1>")
    assert "PHQ-9 item 9 = 1" in main
    assert "Stage II" in page
    assert "failed adequate classes: ssri, snri" in page
    assert "Maudsley (MSM)" in page
    assert "Duration (" in page  # MSM components
    assert re.search(r'data-instrument="PHQ-9" data-state="improving"', page)
    assert re.search(r'data-instrument="MADRS" data-state="single"', page)
    assert 'class="chart timeline"' in page
    for option in kb.treatments.values():
        assert f'id="option-{option.id}"' in page
    tms = re.search(r'id="option-tms".*?</article>', page, re.S).group(0)
    assert "verdict-caution" in tms
    assert "Caution: Seizure disorder" in tms
    assert "What to expect" in tms
    assert "Headache" in tms  # side effects from the knowledge base
    assert re.search(r'<a href="https://[^"]+" rel="noopener noreferrer" target="_blank">', tms)
    assert "option.tms.eligibility" in tms
    for verdict in ("eligible", "caution", "not_yet", "trial_only"):
        assert f"verdict-{verdict}" in page
    # a viewer sees no forms to change anything
    assert "Add measurement" not in page
    assert "Correct<" not in page


def test_unknown_pages_and_records_get_pages_not_tracebacks(clinic):
    with clinic.client() as browser:
        for path, status in (
            ("/app/patients/nobody", 404),
            ("/app/nowhere", 404),
            ("/app/patients/nobody/trials/abc/edit", 422),
            ("/app/patients/nobody/report/nothing", 404),
        ):
            response = browser.get(path)
            assert response.status_code == status, path
            assert response.headers["content-type"].startswith("text/html"), path
            assert "Traceback" not in response.text
            assert "Back to the patient list" in response.text
        # the API keeps its problem details
        api = browser.get("/patients/nobody")
        assert api.headers["content-type"] == "application/problem+json"


def test_pages_carry_security_headers_and_load_only_local_assets(clinic, stage2):
    with clinic.client(None) as anonymous:
        login = anonymous.get("/app/login")
        assert "default-src 'self'" in login.headers["content-security-policy"]
    with clinic.client() as browser:
        for path in (
            "/app/patients",
            f"/app/patients/{stage2}",
            f"/app/patients/{stage2}/measurements/new",
            f"/app/patients/{stage2}/report/summary",
        ):
            page = browser.get(path)
            assert page.status_code == 200
            csp = page.headers["content-security-policy"]
            assert "default-src 'self'" in csp
            assert "script-src 'self'" in csp
            assert page.headers["x-frame-options"] == "DENY"
            assets = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', page.text)
            assert assets, path
            for asset in assets:
                assert asset.startswith("/app/static/"), (path, asset)
                assert browser.get(asset).status_code == 200
            assert "<style" not in page.text  # styles come from the stylesheet (CSP)
            assert " style=" not in page.text


def test_web_routes_are_not_in_the_openapi_document(clinic):
    with clinic.client(None) as browser:
        spec = browser.get("/openapi.json").json()
    assert not [path for path in spec["paths"] if path == "/" or path.startswith("/app")]


def test_reading_a_patient_is_audited_like_the_api(clinic, stage2):
    from trdnav.clinic import audit

    with clinic.client() as browser:
        browser.get(f"/app/patients/{stage2}")
        browser.get(f"/app/patients/{stage2}/report/handout")
    events = audit.query(
        clinic.server.store, clinic.actor, audit.AuditQuery(patient_id=stage2, limit=100)
    )
    actions = [(e["action"], e["user_email"], e["detail"]) for e in events]
    who = clinic.emails["clinician"]
    assert ("patient.read", who, {}) in actions
    assert ("patient.assessment", who, {"as_of": clinic.server.settings.today().isoformat()}) in [
        (a, u, d) for a, u, d in actions
    ]
    assert ("patient.read", who, {"purpose": "report.handout.html"}) in actions
    assert all(e["request_id"] for e in events if e["user_email"] == who)


def fifty_day_trials(patient_id="fifty-days"):
    """Two failed trials of 50 days: adequate under the knowledge base's 42 days (so TRD, and
    TMS eligible), not under a setting of 56 days."""
    return {
        "id": patient_id,
        "patient": {"name": "Fifty Days", "birth_date": "1980-01-01", "sex": "female"},
        "episode": {
            "onset": "2025-01-01",
            "severity": "moderate",
            "psychotic_features": False,
            "recurrent": False,
        },
        "medication_trials": [
            {
                "drug": "sertraline",
                "daily_dose_mg": 150,
                "start": "2025-02-01",
                "end": "2025-03-23",
                "role": "antidepressant",
                "response": "none",
            },
            {
                "drug": "venlafaxine",
                "daily_dose_mg": 225,
                "start": "2025-04-01",
                "end": "2025-05-21",
                "role": "antidepressant",
                "response": "none",
            },
        ],
    }


def test_the_list_and_course_planning_use_the_adequate_trial_setting(own_server, clinic_on):
    clinic = clinic_on(own_server(adequate_trial_days=56))
    # stored with its list summary made under the knowledge base's 42 days, as a write that
    # does not know the setting (an API call, another server) makes it
    clinic.add_patient(fifty_day_trials())
    base = "/app/patients/fifty-days"
    with clinic.client() as browser:

        def listed(query):
            return "Fifty Days" in browser.get(f"/app/patients?{query}").text

        assert not listed("trd=yes")
        assert listed("trd=no")
        assert listed("stage_max=0")
        # the REST API's list reads the same setting
        token = httpx.post(
            f"{clinic.server.url}/auth/login",
            json={"email": clinic.emails["clinician"], "password": PASSWORD},
        ).json()["access_token"]
        api = httpx.get(
            f"{clinic.server.url}/patients",
            params={"trd": "true"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert [p["id"] for p in api.json()["items"]] == []
        row = re.search(r"Fifty Days.*?</tr>", browser.get("/app/patients").text, re.S).group(0)
        assert "<strong>TRD</strong>" not in row
        assert "<td>no</td>" in row
        dashboard = browser.get(base).text
        tms = re.search(r'id="option-tms".*?</article>', dashboard, re.S).group(0)
        assert "verdict-not_yet" in tms

        # TMS is not eligible under the setting: planning it needs the review tick
        page = browser.get(f"{base}/courses/new?treatment=tms").text
        assert 'name="reviewed"' in page
        fields = {"template": "tms-10hz", "start": "2025-06-02", "session_time": "09:00"}
        refused = browser.form(f"{base}/courses/new", f"{base}/courses", fields)
        assert refused.status_code == 422
        assert "confirmation that you have reviewed its reasons" in refused.text
        accepted = browser.form(
            f"{base}/courses/new", f"{base}/courses", fields | {"reviewed": "yes"}
        )
        assert accepted.status_code == 303
