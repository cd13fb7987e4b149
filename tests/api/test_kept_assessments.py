"""Kept assessments answered before the routing: the same answer, audit and refusals as the
route, whatever the request that follows an assessment already kept."""

import pytest

from trdnav.clinic import accounts
from trdnav.clinic.actor import Actor

PATIENT = "/patients/example-stage-2"
AS_OF = {"as_of": "2025-06-02"}


@pytest.fixture
def kept(api, example_doc):
    """The patient imported and its assessment (as of AS_OF) read once, so that it is kept."""
    assert api.post("/patients/import", json=example_doc("stage-2-trd")).status_code == 201
    first = api.get(f"{PATIENT}/assessment", params=AS_OF)
    assert first.status_code == 200
    return first


def test_a_kept_assessment_is_the_same_answer_with_the_same_headers(api, kept):
    again = api.get(f"{PATIENT}/assessment", params=AS_OF, headers={"X-Request-ID": "again-1"})
    assert again.status_code == 200
    assert again.content == kept.content
    assert again.headers["content-type"] == "application/json"
    assert again.headers["x-request-id"] == "again-1"
    assert again.headers["cache-control"] == "no-store"
    assert int(again.headers["content-length"]) == len(kept.content)


def test_every_read_of_a_kept_assessment_is_audited(clinic, api, kept):
    for n in range(3):
        assert api.get(
            f"{PATIENT}/assessment", params=AS_OF, headers={"X-Request-ID": f"read-{n}"}
        ).is_success
    with clinic.client("admin") as admin:
        events = admin.get(
            "/audit", params={"action": "patient.assessment", "user": clinic.emails["clinician"]}
        ).json()
    reads = [e for e in events if e["request_id"] in {"read-0", "read-1", "read-2"}]
    assert len(reads) == 3
    for event in reads:
        assert event["patient_id"] == "example-stage-2"
        assert event["user_email"] == clinic.emails["clinician"]
        assert event["remote_addr"] == "127.0.0.1"
        assert event["detail"] == {"as_of": "2025-06-02"}


def test_a_change_is_seen_at_once(api, kept):
    assert [a["code"] for a in kept.json()["alerts"]] == ["suicidal_ideation"]
    added = api.post(
        f"{PATIENT}/measurements",
        json={"instrument": "PHQ-9", "date": "2025-06-01", "items": [0] * 9},
        headers={"If-Match": '"1"'},
    )
    assert added.status_code == 201
    after = api.get(f"{PATIENT}/assessment", params=AS_OF).json()
    assert after["alerts"] == []


def test_other_dates_are_their_own_assessments(api, kept):
    earlier = api.get(f"{PATIENT}/assessment", params={"as_of": "2024-01-02"})
    assert earlier.status_code == 200
    assert earlier.json()["as_of"] == "2024-01-02"
    assert api.get(f"{PATIENT}/assessment", params=AS_OF).content == kept.content


def test_a_query_it_does_not_read_goes_to_the_route(api, kept):
    bad = api.get(f"{PATIENT}/assessment", params={"as_of": "2025-02-30"})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"
    assert [e["path"] for e in bad.json()["errors"]] == ["query.as_of"]
    extra = api.get(f"{PATIENT}/assessment", params={**AS_OF, "unused": "1"})
    assert extra.status_code == 200
    assert extra.content == kept.content


def test_viewers_read_kept_assessments(clinic, kept):
    with clinic.client("viewer") as viewer:
        assert viewer.get(f"{PATIENT}/assessment", params=AS_OF).content == kept.content


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer not-a-token", "Basic dXNlcjpwYXNz"],
)
def test_a_kept_assessment_needs_a_valid_token(clinic, kept, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    with clinic.client("anonymous") as anonymous:
        refused = anonymous.get(f"{PATIENT}/assessment", params=AS_OF, headers=headers)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("change", ["disable", "reset"])
def test_a_revoked_token_no_longer_reads_a_kept_assessment(server, clinic, api, kept, change):
    actor = Actor.command_line(clinic.id)
    if change == "disable":
        accounts.set_active(server.store, actor, clinic.emails["clinician"], False)
    else:
        accounts.set_password(server.store, actor, clinic.emails["clinician"], "another password")
    refused = api.get(f"{PATIENT}/assessment", params=AS_OF)
    assert refused.status_code == 401


def test_another_clinic_cannot_read_a_kept_assessment(make_clinic, kept):
    other = make_clinic()
    with other.client("clinician") as stranger:
        refused = stranger.get(f"{PATIENT}/assessment", params=AS_OF)
    assert refused.status_code == 404
    assert refused.headers["content-type"] == "application/problem+json"


def test_a_deleted_patient_is_not_read_from_what_was_kept(api, kept):
    assert api.delete(PATIENT, headers={"If-Match": '"1"'}).status_code == 204
    assert api.get(f"{PATIENT}/assessment", params=AS_OF).status_code == 404
