"""Text longer than the database keeps, typed into a form: named next to its field (or on
the page), and nothing stored. SQLite keeps text of any length, PostgreSQL refuses it: that
was an error page ("Something went wrong") on PostgreSQL, and stored on SQLite."""

import json
import re

import pytest

from .conftest import csrf_of

LONG_EMAIL = "a" * 246 + "@web.test"  # 255 characters


def field_error(page, name):
    found = re.search(rf'<p class="field-error" id="{name}-error">(.*?)</p>', page, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip() if found else None


def _new_patient(browser, pid):
    return browser.form(
        "/app/new-patient",
        "/app/new-patient",
        {
            "id": "long",
            "birth_date": "1990-02-03",
            "sex": "f" * 33,
            "episode.onset": "2025-01-06",
            "episode.severity": "mild",
        },
    )


def _changed_patient(browser, pid):
    fields = {
        "birth_date": "1979-04-12",
        "sex": "f" * 33,
        "episode.onset": "2023-09-01",
        "episode.severity": "moderate",
        "episode.recurrent": "yes",
        "conditions": ["seizure_disorder"],
    }
    return browser.form(f"/app/patients/{pid}/edit", f"/app/patients/{pid}/edit", fields)


def _therapy(browser, pid):
    base = f"/app/patients/{pid}"
    return browser.form(
        f"{base}/psychotherapy/new",
        f"{base}/psychotherapy",
        {"type": "t" * 65, "start": "2024-07-01", "sessions": "6"},
    )


def _imported(browser, pid, example):
    doc = {**example, "id": "long", "patient": {**example["patient"], "sex": "f" * 33}}
    csrf = csrf_of(browser.get("/app/import").text)
    data = {"csrf": csrf, "document": json.dumps(doc), "format": "core-json"}
    return browser.post("/app/import", data=data)


def _user(**fields):
    values = {"email": "new@web.test", "name": "New", "role": "viewer", **fields}
    return lambda browser, pid: browser.form("/app/users", "/app/users", values)


def _sign_in(browser, pid):
    return browser.login(LONG_EMAIL, "not the password")


def _from_far(browser, pid):
    return browser.get("/app/patients", headers={"X-Forwarded-For": "a" * 65})


FORMS = [
    pytest.param("clinician", _new_patient, ("sex", "a text of at most 32 characters"), id="sex"),
    pytest.param(
        "clinician", _changed_patient, ("sex", "a text of at most 32 characters"), id="new sex"
    ),
    pytest.param(
        "clinician", _therapy, ("type", "a text of at most 64 characters"), id="psychotherapy"
    ),
    pytest.param(
        "admin",
        _user(email=LONG_EMAIL),
        ("email", "an e-mail address of at most 254 characters"),
        id="e-mail",
    ),
    pytest.param(
        "admin", _user(name="n" * 201), ("name", "a name of at most 200 characters"), id="name"
    ),
    pytest.param(
        None,
        _sign_in,
        (None, "E-mail: an e-mail address of at most 254 characters."),
        id="sign-in e-mail",
    ),
    pytest.param(
        "clinician",
        _imported,
        (None, "patient.sex: got &#34;33 characters&#34;; expected a text of at most 32"),
        id="imported file",
    ),
    pytest.param(
        "clinician",
        _from_far,
        (None, "X-Forwarded-For: got &#34;aaaa"),
        id="client address",
    ),
]


@pytest.mark.parametrize(("role", "submit", "shown"), FORMS)
def test_text_longer_than_the_database_keeps_is_named_and_nothing_stored(
    clinic, example, stage2, stored_rows, role, submit, shown
):
    field, expected = shown

    def stored() -> dict[str, object]:
        # the clinic's audit events are left out: showing a form records a read
        rows = stored_rows(clinic.server.store, clinic.id)
        del rows["audit"]
        return dict(rows)

    with clinic.client(role) as browser:
        before = stored()
        if submit is _imported:
            response = submit(browser, stage2, example("stage-2-trd"))
        else:
            response = submit(browser, stage2)
        assert response.status_code == 422, response.text
        if field is None:
            assert expected in response.text
        else:
            assert "1 problem: nothing was saved" in response.text
            assert expected in field_error(response.text, field)
        assert stored() == before


def test_forms_stop_typing_where_the_database_stops_keeping(clinic, stage2):
    """The browser keeps a text within what is kept, so the refusal above is seldom met."""
    with clinic.client("admin") as browser:
        pages = {
            "new patient": browser.get("/app/new-patient").text,
            "edit patient": browser.get(f"/app/patients/{stage2}/edit").text,
            "therapy": browser.get(f"/app/patients/{stage2}/psychotherapy/new").text,
            "users": browser.get("/app/users").text,
        }
    with clinic.client(None) as visitor:
        pages["sign-in"] = visitor.get("/app/login").text
    wanted = {
        "new patient": [("name", 200), ("mrn", 64), ("sex", 32)],
        "edit patient": [("name", 200), ("mrn", 64), ("sex", 32)],
        "therapy": [("type", 64)],
        "users": [("email", 254), ("name", 200)],
        "sign-in": [("email", 254)],
    }
    for page, fields in wanted.items():
        for name, length in fields:
            tag = re.search(rf'<input [^>]*name="{name}"[^>]*>', pages[page])
            assert tag is not None, (page, name)
            assert f'maxlength="{length}"' in tag.group(0), (page, name, tag.group(0))
