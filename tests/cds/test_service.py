"""The CDS Hooks service over real HTTP: discovery, patient-view cards from prefetch or from
the client's FHIR server, 412 when data cannot be had, and the spec's examples."""

import json
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from trdnav.api.routes.cds import ON_LOOP_MAX_BYTES
from trdnav.cds.models import Response
from trdnav.settings import Settings

from .conftest import FHIR_TOKEN, PATIENT, PUBLIC_URL

EXAMPLES = Path(__file__).parent / "examples"


def example(name):
    return json.loads((EXAMPLES / name).read_text("utf-8"))


def test_discovery_lists_the_services_with_their_prefetch(cds):
    found = httpx.get(f"{cds.url}/cds-services").json()
    services = {s["id"]: s for s in found["services"]}
    assert {s["hook"] for s in services.values()} == {"patient-view", "order-select", "order-sign"}
    prefetch = services["trdnav-patient-view"]["prefetch"]
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    assert prefetch["observations"].startswith("Observation?patient={{context.patientId}}&code=")
    assert "http://loinc.org|44249-1" in prefetch["observations"]
    assert all(s["description"] for s in services.values())


def test_patient_view_cards_from_prefetch(cds):
    response = cds.call("trdnav-patient-view", cds.request(prefetch=cds.prefetch()))
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    Response.model_validate(response.json())
    assert [c["indicator"] for c in cards] == ["critical", "warning", "info", "info"]
    critical, warning, stage, open_ = cards
    assert critical["summary"].startswith("Suicide item positive")
    assert "PHQ-9 item 9 = 1" in critical["detail"]
    assert warning["summary"].startswith("Contraindicated: ")
    assert warning["summary"] == "Contraindicated: TMS, Esketamine"
    assert warning["overrideReasons"][0]["code"] == "benefit-outweighs-risk"
    assert stage["summary"].startswith("TRD: 2 failed adequate trial(s); Thase-Rush stage II")
    assert open_["summary"].startswith("Open options: ")
    for card in cards:
        assert len(card["summary"]) < 140
        assert card["source"]["label"].startswith("trdnav ")
        assert card["links"] == [
            {
                "label": "Open the patient in trdnav",
                "url": f"{PUBLIC_URL}/app/patients/{PATIENT}",
                "type": "absolute",
            }
        ]
        assert len(card["uuid"]) == 36


def test_missing_prefetch_is_fetched_with_the_bearer_token_and_pages_followed(cds):
    cds.fhir.requests.clear()
    from_server = cds.call("trdnav-patient-view", cds.request(fhir=True))
    assert from_server.status_code == 200, from_server.text
    from_prefetch = cds.call("trdnav-patient-view", cds.request(prefetch=cds.prefetch()))
    summaries = [c["summary"] for c in from_server.json()["cards"]]
    assert summaries == [c["summary"] for c in from_prefetch.json()["cards"]]
    urls = [url for url, _ in cds.fhir.requests]
    assert all(auth == f"Bearer {FHIR_TOKEN}" for _, auth in cds.fhir.requests)
    assert any("_offset=5" in url for url in urls)  # a second page of a search
    assert any(url.endswith(f"/fhir/Patient/{PATIENT}") for url in urls)
    cds.fhir.requests.clear()
    partly = cds.call(
        "trdnav-patient-view", cds.request(prefetch=cds.prefetch(skip=("procedures",)), fhir=True)
    )
    assert partly.status_code == 200
    assert [url.split("?")[0].rsplit("/", 1)[-1] for url, _ in cds.fhir.requests] == ["Procedure"]


def test_412_when_the_data_cannot_be_had(cds):
    no_server = cds.call(
        "trdnav-patient-view", cds.request(prefetch=cds.prefetch(skip=("conditions",)))
    )
    assert no_server.status_code == 412
    assert no_server.json()["type"] == "/problems/data-unavailable"
    assert "prefetch 'conditions'" in no_server.json()["detail"]
    body = cds.request(prefetch=cds.prefetch(skip=("patient",)), fhir=True)
    body["fhirAuthorization"]["access_token"] = "wrong"
    refused = cds.call("trdnav-patient-view", body)
    assert refused.status_code == 412
    assert "answered 401" in refused.json()["detail"]
    for server in ("http://fhir.example.org/r4", "http://127.attacker.invalid/fhir"):
        body = cds.request(prefetch=cds.prefetch(skip=("patient",)), fhir=True)
        body["fhirServer"] = server  # loopback http is allowed here, but these are not loopback
        plain = cds.call("trdnav-patient-view", body)
        assert plain.status_code == 412
        assert "is not https" in plain.json()["detail"]
    null_patient = cds.call(
        "trdnav-patient-view", cds.request(prefetch={**cds.prefetch(), "patient": None})
    )
    assert null_patient.status_code == 412


def test_the_specs_patient_view_request(cds):
    """The spec's example: prefetch under another key and an http FHIR server that is not on
    this machine, so the data trdnav asks for cannot be had safely."""
    body = example("patient-view-request.json")
    response = cds.call("trdnav-patient-view", body)
    assert response.status_code == 412
    assert "is not https" in response.json()["detail"]


def test_bad_requests_are_422_with_the_field_named(cds):
    body = cds.request(prefetch=cds.prefetch())
    body["hook"] = "order-sign"
    del body["context"]["patientId"]
    response = cds.call("trdnav-patient-view", body)
    assert response.status_code == 422
    assert {e["path"] for e in response.json()["errors"]} == {"hook", "context.patientId"}
    assert cds.call("no-such-service", body).status_code == 404


def test_a_body_that_is_not_json_is_422_after_authentication(cds):
    url = cds.service_url("trdnav-patient-view")

    def post(token):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.post(url, content=b'{"hook": "patient-view",', headers=headers, timeout=30)

    assert post(None).status_code == 401
    broken = post(cds.token(cds.audience("trdnav-patient-view")))
    assert broken.status_code == 422
    assert broken.json()["errors"][0]["path"] == "(body)"


def test_a_body_over_the_size_limit_is_refused_unread_with_or_without_a_token(cds):
    url = cds.service_url("trdnav-patient-view")
    too_large = b" " * (Settings().fhir_max_bundle_mb * 1024 * 1024 + 1)
    for token in (None, cds.token(cds.audience("trdnav-patient-view"))):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        refused = httpx.post(url, content=too_large, headers=headers, timeout=60)
        assert refused.status_code == 422
        [error] = refused.json()["errors"]
        assert error["path"] == "(body)"
        assert "setting fhir_max_bundle_mb" in error["expected"]


def test_the_specs_response_example_fits_the_card_model():
    sent = example("response.json")
    assert Response.model_validate(sent).to_json() == sent


def test_an_unchanged_prefetch_is_answered_again_stored_and_audited(cds):
    """A chart opened again with the same data gets the same cards, each with its own uuid,
    stored for feedback and audited; changed data is decided anew, and data fetched from the
    FHIR server is fetched on every call."""
    first = cds.request(prefetch=cds.prefetch())
    searched_again = cds.prefetch()
    for value in searched_again.values():
        if value["resourceType"] == "Bundle":
            value.update(id="another-search", meta={"lastUpdated": "2026-11-26T10:00:00Z"})
    again = cds.request(prefetch=searched_again)
    one = cds.call("trdnav-patient-view", first).json()["cards"]
    two = cds.call("trdnav-patient-view", again).json()["cards"]
    assert [{**c, "uuid": ""} for c in one] == [{**c, "uuid": ""} for c in two]
    assert len({c["uuid"] for c in one + two}) == len(one) + len(two)
    warning = next(c for c in two if c["indicator"] == "warning")
    feedback = {
        "feedback": [
            {
                "card": warning["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-26T10:05:31Z",
            }
        ]
    }
    stored = cds.call("trdnav-patient-view", feedback, path="/feedback")
    assert stored.status_code == 200, stored.text
    with cds.client("admin") as admin:
        audited = admin.get("/audit", params={"action": "cds.patient-view", "limit": 1000}).json()
    instances = {e["detail"]["hookInstance"]: e["detail"]["cards"] for e in audited}
    assert instances[first["hookInstance"]] == instances[again["hookInstance"]] == len(two)

    changed = cds.prefetch()
    changed["conditions"]["entry"] = []
    other = cds.call("trdnav-patient-view", cds.request(prefetch=changed)).json()["cards"]
    assert "warning" not in [c["indicator"] for c in other]
    back = cds.call("trdnav-patient-view", cds.request(prefetch=cds.prefetch())).json()["cards"]
    assert [c["summary"] for c in back] == [c["summary"] for c in one]

    for _ in range(2):
        cds.fhir.requests.clear()
        partly = cds.request(prefetch=cds.prefetch(skip=("procedures",)), fhir=True)
        assert cds.call("trdnav-patient-view", partly).status_code == 200
        assert [url.split("?")[0].rsplit("/", 1)[-1] for url, _ in cds.fhir.requests] == [
            "Procedure"
        ]

    token = cds.token(cds.audience("trdnav-patient-view"))
    body = cds.request(prefetch=cds.prefetch())
    assert cds.call("trdnav-patient-view", body, token=token).status_code == 200
    replay = cds.call("trdnav-patient-view", body, token=token)
    assert replay.status_code == 401
    assert "jti replay" in replay.json()["detail"]


def test_many_calls_at_once_are_all_answered_those_fetching_data_too(cds):
    """More calls at once than the threads given to calls that only compute, with calls that
    fetch their data from the FHIR server among them: each is answered, stored and audited."""
    bodies = [
        cds.request(prefetch=cds.prefetch(skip=("procedures",)), fhir=True)
        if i % 4 == 0
        else cds.request(prefetch=cds.prefetch())
        for i in range(16)
    ]
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda body: cds.call("trdnav-patient-view", body), bodies))
    assert [a.status_code for a in answers] == [200] * len(bodies)
    summaries = {tuple(c["summary"] for c in a.json()["cards"]) for a in answers}
    assert len(summaries) == 1
    with cds.client("admin") as admin:
        audited = admin.get("/audit", params={"action": "cds.patient-view", "limit": 1000}).json()
    instances = {e["detail"]["hookInstance"] for e in audited}
    assert {b["hookInstance"] for b in bodies} <= instances


def test_a_large_call_is_answered_as_a_small_one(cds):
    """A call over ON_LOOP_MAX_BYTES is answered in a worker thread instead of on the event
    loop: with the same cards, stored and audited the same way."""
    small = cds.request(prefetch=cds.prefetch())
    large = cds.request(prefetch=cds.prefetch())
    patient = dict(large["prefetch"]["patient"])
    narrative = '<div xmlns="http://www.w3.org/1999/xhtml">' + "x" * ON_LOOP_MAX_BYTES + "</div>"
    patient["text"] = {"status": "generated", "div": narrative}
    large["prefetch"]["patient"] = patient
    assert len(json.dumps(large)) > ON_LOOP_MAX_BYTES > len(json.dumps(small))
    answers = [cds.call("trdnav-patient-view", body) for body in (small, large)]
    assert [a.status_code for a in answers] == [200, 200], answers[1].text
    cards = [[(c["indicator"], c["summary"]) for c in a.json()["cards"]] for a in answers]
    assert cards[0] == cards[1]
    with cds.client("admin") as admin:
        audited = admin.get("/audit", params={"action": "cds.patient-view", "limit": 1000}).json()
    assert large["hookInstance"] in {e["detail"]["hookInstance"] for e in audited}


def test_server_timing_gives_the_time_in_the_handler_and_the_time_waited_before_it(cds):
    body = cds.request(prefetch=cds.prefetch())
    plain = cds.call("trdnav-patient-view", body).headers["Server-Timing"]
    assert re.fullmatch(r"app;dur=\d+\.\d\d", plain), plain
    sent = time.time() - 0.25  # a proxy took the request a quarter of a second ago
    for stamp in (f"t={sent:.6f}", f"{sent * 1000:.0f}", f"t={sent * 1e6:.0f}"):
        body = cds.request(prefetch=cds.prefetch())
        timing = cds.call("trdnav-patient-view", body, headers={"X-Request-Start": stamp})
        found = re.fullmatch(
            r"queue;dur=(\d+\.\d\d), app;dur=\d+\.\d\d", timing.headers["Server-Timing"]
        )
        assert found, timing.headers["Server-Timing"]
        assert 249 <= float(found.group(1)) < 250 + 30_000
    for junk in ("soon", "t=", "t=nan", f"t={time.time() + 7200:.0f}"):
        body = cds.request(prefetch=cds.prefetch())
        timing = cds.call("trdnav-patient-view", body, headers={"X-Request-Start": junk})
        assert timing.headers["Server-Timing"].startswith("app;dur="), junk


def test_a_call_closes_its_connection_so_that_the_next_goes_to_a_free_process(cds):
    """The server closes the connection after a call's answer (the next call is a new
    connection, which any worker process may take); discovery keeps its connection."""
    url = httpx.URL(cds.service_url("trdnav-patient-view"))
    body = json.dumps(cds.request(prefetch=cds.prefetch())).encode()
    head = (
        f"POST {url.path} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        f"Authorization: Bearer {cds.token(cds.audience('trdnav-patient-view'))}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    received = b""
    with socket.create_connection((url.host, url.port), timeout=30) as sock:
        sock.sendall(head.encode() + body)
        while chunk := sock.recv(1 << 16):  # until the server closes the connection
            received += chunk
    status, _, rest = received.partition(b"\r\n")
    headers, _, answer = rest.partition(b"\r\n\r\n")
    assert status == b"HTTP/1.1 200 OK"
    assert b"connection: close" in headers.lower().split(b"\r\n")
    assert len(json.loads(answer)["cards"]) >= 3
    with httpx.Client(base_url=cds.url, timeout=30) as client:
        assert "close" not in client.get("/cds-services").headers.get("connection", "")


def test_a_prefetch_of_another_patient_gives_no_cards(cds):
    """The EHR's context names the chart open on screen: cards from another patient's data
    must not be shown there."""
    body = cds.request(prefetch=cds.prefetch(), patientId="someone-else")
    response = cds.call("trdnav-patient-view", body)
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["prefetch.patient"]
    assert "cards" not in response.json()


def test_a_call_is_decided_on_the_clinics_today(cds):
    """The server runs in UTC. The patient turns 18 on the later of UTC's date and the
    clinic's: esketamine is open only on that day. At any hour Kiritimati (UTC+14) or Pago
    Pago (UTC-11) is not on UTC's date."""
    utc_today = datetime.now(UTC).date()
    zone = "Pacific/Kiritimati"
    if datetime.now(ZoneInfo(zone)).date() == utc_today:
        zone = "Pacific/Pago_Pago"
    zone_today = datetime.now(ZoneInfo(zone)).date()
    later = max(zone_today, utc_today)
    prefetch = cds.prefetch()
    prefetch["patient"]["birthDate"] = later.replace(year=later.year - 18).isoformat()
    prefetch["conditions"]["entry"] = []  # nothing else closes esketamine
    with cds.client("admin") as admin:
        assert admin.patch("/clinic/settings", json={"timezone": zone}).status_code == 200
        try:
            response = cds.call("trdnav-patient-view", cds.request(prefetch=prefetch))
        finally:
            assert admin.patch("/clinic/settings", json={"timezone": "UTC"}).status_code == 200
    assert response.status_code == 200, response.text
    [open_] = [c for c in response.json()["cards"] if c["summary"].startswith("Open options")]
    assert ("Esketamine" in open_["summary"]) == (zone_today == later), open_["summary"]


@pytest.mark.parametrize(
    "server", ["http://[::1", "https://[::1", "https://example.org:abc", "https://[zz]"]
)
def test_a_fhir_server_that_is_not_a_url_is_said_not_a_server_error(cds, server):
    body = {**cds.request(prefetch=cds.prefetch(skip=("conditions",)), fhir=True)}
    body["fhirServer"] = server
    response = cds.call("trdnav-patient-view", body)
    assert response.status_code == 412, response.text
    assert f"fhirServer {server} is not a URL" in response.json()["detail"]


def test_a_call_nested_too_deeply_is_refused(cds):
    """Nesting of 900 levels inside the context was read; the other readers refuse more
    than 64."""
    body = cds.request(prefetch=cds.prefetch())
    deep: list = []
    for _ in range(900):
        deep = [deep]
    body["context"]["extra"] = deep
    response = cds.call("trdnav-patient-view", body)
    assert response.status_code == 422
    assert "nested more than 64 levels" in response.text


def test_a_prefetch_bundle_that_is_not_fhir_is_refused_not_read_in_part(cds):
    """An entry given as an object, or entries that hold no resource, were passed over: a
    Condition left out that way hid the contraindication it stands for (200 with cards)."""
    for change, path in [
        (lambda b: {**b, "entry": b["entry"][0]}, "prefetch.conditions.entry"),
        (lambda b: {**b, "entry": [7, *b["entry"]]}, "prefetch.conditions.entry[0]"),
        (lambda b: {**b, "entry": [{"resource": 5}]}, "prefetch.conditions.entry[0].resource"),
    ]:
        prefetch = cds.prefetch()
        assert prefetch["conditions"]["entry"]
        prefetch["conditions"] = change(prefetch["conditions"])
        response = cds.call("trdnav-patient-view", cds.request(prefetch=prefetch))
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["path"] == path


def test_a_second_patient_in_the_prefetch_is_refused(cds):
    """A prefetched Patient of another id was passed over when the context's patient came in
    another prefetch Bundle."""
    prefetch = cds.prefetch()
    context_patient = {**prefetch["patient"]}
    prefetch["patient"] = {**prefetch["patient"], "id": "other"}
    prefetch["conditions"]["entry"].append({"resource": context_patient})
    response = cds.call("trdnav-patient-view", cds.request(prefetch=prefetch))
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["errors"]] == ["prefetch.patient"]
