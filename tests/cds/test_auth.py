"""CDS clients authenticate with signed JWTs; everything else is refused with a reason."""

import base64
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, select

from trdnav.cds.auth import KEYS_TTL, REFETCH_AFTER, KeySets, is_loopback, keys_at_hand
from trdnav.settings import CdsClient, Settings
from trdnav.store.tables import AuditEvent, CdsCard, CdsFeedback, CdsJti

from .conftest import ISS, ISS_BY_URL

SERVICE = "trdnav-patient-view"


def refused(cds, token, path=""):
    response = cds.call(SERVICE, cds.request(prefetch=cds.prefetch()), token=token, path=path)
    assert response.status_code == 401, response.text
    assert response.json()["type"] == "/problems/not-authenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    return response.json()["detail"]


def unsigned(claims):
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT', 'kid': 'ec-1'})}.{part(claims)}."


def test_es384_and_rs384_from_a_file_and_a_url_are_accepted(cds):
    url = cds.audience(SERVICE)
    for token in (
        cds.token(url),
        cds.token([url, "https://elsewhere.example.org"], alg="RS384", kid="rsa-1"),
        cds.token(url, iss=ISS_BY_URL, alg="ES384"),
    ):
        response = cds.call(SERVICE, cds.request(prefetch=cds.prefetch()), token=token)
        assert response.status_code == 200, response.text


def test_a_rotated_jwks_file_is_read_again(cds):
    """Key sets are kept per process, but an edited JWKS file takes effect at once: a key
    added is accepted, a key removed is refused."""
    url = cds.audience(SERVICE)
    original = cds.jwks_file.read_text(encoding="utf-8")
    new_key = ec.generate_private_key(ec.SECP384R1())
    new_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(new_key.public_key()))
    rotated = json.loads(original)
    rotated["keys"].append({**new_jwk, "kid": "ec-2", "use": "sig", "alg": "ES384"})
    assert "no key 'ec-2'" in refused(cds, cds.token(url, kid="ec-2", key=new_key))
    try:
        cds.jwks_file.write_text(json.dumps(rotated), encoding="utf-8")
        token = cds.token(url, kid="ec-2", key=new_key)
        response = cds.call(SERVICE, cds.request(prefetch=cds.prefetch()), token=token)
        assert response.status_code == 200, response.text
    finally:
        cds.jwks_file.write_text(original, encoding="utf-8")
    assert "no key 'ec-2'" in refused(cds, cds.token(url, kid="ec-2", key=new_key))
    response = cds.call(SERVICE, cds.request(prefetch=cds.prefetch()), token=cds.token(url))
    assert response.status_code == 200, response.text


def test_symmetric_and_unsigned_tokens_are_refused(cds):
    url = cds.audience(SERVICE)
    hs256 = jwt.encode(
        {"iss": ISS, "aud": url, "exp": 4102444800, "iat": 1700000000, "jti": "x"},
        "a shared secret that is long enough",
        algorithm="HS256",
        headers={"kid": "ec-1"},
    )
    assert "'HS256' is not allowed" in refused(cds, hs256)
    assert "'none' is not allowed" in refused(
        cds, unsigned({"iss": ISS, "aud": url, "exp": 4102444800, "iat": 1700000000, "jti": "y"})
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"aud": "https://trdnav.example.org/cds-services/other"},
            "JWT aud must be the URL called",
        ),
        ({"iss": "https://unknown-ehr.example.org"}, "is not a registered CDS client"),
        ({"expires_in": -120}, "the JWT has expired"),
        ({"issued_ago": -600, "expires_in": 900}, "iat in the future"),
        ({"kid": None}, "must name its key (kid)"),
        ({"kid": "no-such-key"}, "no key 'no-such-key'"),
        ({"headers": {"jku": "https://attacker.example.org/jwks"}}, "is not the JWKS registered"),
        ({"headers": {"typ": "at+jwt"}}, "typ must be 'JWT'"),
        ({"key": ec.generate_private_key(ec.SECP384R1())}, "does not verify"),
    ],
)
def test_bad_tokens_are_refused(cds, change, reason):
    change = dict(change)
    url = change.pop("aud", cds.audience(SERVICE))
    assert reason in refused(cds, cds.token(url, **change))


def test_an_exp_beyond_any_time_is_refused(cds):
    url = cds.audience(SERVICE)
    for exp in (10**20, 253402300799):  # past what a datetime holds; 9999-12-31T23:59:59
        token = cds.token(url, expires_in=exp - int(time.time()))
        assert f"exp ({exp})" in refused(cds, token)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://localhost:8080/fhir", True),
        ("http://127.0.0.1/fhir", True),
        ("http://127.9.8.7:1/fhir", True),
        ("http://[::1]:1/fhir", True),
        ("http://127.attacker.invalid/fhir", False),
        ("http://localhost.attacker.invalid/fhir", False),
        ("http://128.0.0.1/fhir", False),
        ("http://[::2]/fhir", False),
        ("http://[bad/fhir", False),
    ],
)
def test_only_this_machine_is_loopback(url, loopback):
    assert is_loopback(url) is loopback


def test_a_replayed_jti_is_refused(cds):
    url = cds.audience(SERVICE)
    jti = str(uuid.uuid4())
    first = cds.call(SERVICE, cds.request(prefetch=cds.prefetch()), token=cds.token(url, jti=jti))
    assert first.status_code == 200
    assert "jti replay" in refused(cds, cds.token(url, jti=jti))
    assert "jti replay" in refused(cds, cds.token(url, jti=jti, alg="RS384", kid="rsa-1"))


def test_a_token_of_a_failed_call_cannot_be_used_again(cds):
    """The jti of a call that fails after its token verified (bad JSON, 412, 422) is recorded
    too: the token is spent, and a replay is refused whatever its body."""
    url, audience = cds.service_url(SERVICE), cds.audience(SERVICE)
    for body in (
        b'{"hook": "patient-view",',
        json.dumps(cds.request(prefetch=cds.prefetch(skip=("conditions",)))).encode(),
        json.dumps({**cds.request(prefetch=cds.prefetch()), "hook": "order-sign"}).encode(),
    ):
        token = cds.token(audience)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        failed = httpx.post(url, content=body, headers=headers, timeout=30)
        assert failed.status_code in (412, 422), failed.text
        assert "jti replay" in refused(cds, token)
        again = httpx.post(url, content=body, headers=headers, timeout=30)
        assert again.status_code == 401
        assert "jti replay" in again.json()["detail"]


def test_a_replayed_call_stores_and_audits_nothing(cds):
    """The jti is recorded in the transaction that stores the cards and the audit record: a
    replay is refused and leaves no cards and no audit record of its own."""
    url = cds.audience(SERVICE)
    token = cds.token(url)
    first = cds.request(prefetch=cds.prefetch())
    assert cds.call(SERVICE, first, token=token).status_code == 200
    replay = cds.request(prefetch=cds.prefetch())
    refused_call = cds.call(SERVICE, replay, token=token)
    assert refused_call.status_code == 401
    assert "jti replay" in refused_call.json()["detail"]
    with cds.client("admin") as admin:
        audited = admin.get("/audit", params={"action": "cds.patient-view", "limit": 1000}).json()
    instances = [e["detail"]["hookInstance"] for e in audited]
    assert first["hookInstance"] in instances
    assert replay["hookInstance"] not in instances


def test_one_token_sent_at_once_many_times_is_answered_once(cds):
    """Calls with one token at the same time: exactly one is answered, whichever records the
    jti first; the others are refused as replays."""
    url = cds.audience(SERVICE)
    token = cds.token(url)
    body = cds.request(prefetch=cds.prefetch())
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: cds.call(SERVICE, body, token=token), range(6)))
    assert sorted(a.status_code for a in answers) == [200] + [401] * 5
    assert all("jti replay" in a.json()["detail"] for a in answers if a.status_code == 401)


def test_missing_or_malformed_credentials(cds):
    body = cds.request(prefetch=cds.prefetch())
    no_header = httpx.post(cds.service_url(SERVICE), json=body)
    assert no_header.status_code == 401
    assert "Authorization: Bearer <JWT>" in no_header.json()["detail"]
    assert "not a JWT" in refused(cds, "not-a-token")
    with cds.client("clinician") as user:
        response = user.post(f"/cds-services/{SERVICE}", json=body)
    assert response.status_code == 401
    assert "'HS256' is not allowed" in response.json()["detail"]


def test_a_token_altered_after_signing_is_refused(cds):
    """The header and claims are peeked at to find the key; the token itself is verified."""
    url = cds.audience(SERVICE)
    header, payload, signature = cds.token(url).split(".")
    junk = f"{header}.{payload[:5]}!{payload[5:]}.{signature}"
    assert refused(cds, junk)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["exp"] += 3600
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert "does not verify" in refused(cds, f"{header}.{forged}.{signature}")
    assert "not a JWT" in refused(cds, f"{header}.{payload}")
    assert "not a JWT" in refused(cds, f"{header}.W10.{signature}")  # claims that are a list


def test_keys_at_hand_says_when_verifying_a_token_needs_the_network(cds):
    """A call is answered on the event loop only when verifying its token fetches nothing:
    keys inline or in a file, or a JWKS URL fetched within its time to live that holds the
    token's key (or fetched so recently that an unknown key is not fetched again)."""
    url_client = CdsClient(clinic="c", jwks=f"{cds.fhir.url}/jwks")
    file_client = CdsClient(clinic="c", jwks=str(cds.jwks_file))
    settings = Settings(cds_clients={ISS: file_client, ISS_BY_URL: url_client})
    now = [1000.0]
    key_sets = KeySets(clock=lambda: now[0])
    by_url = cds.token("https://trdnav.example.org/x", iss=ISS_BY_URL)
    assert keys_at_hand(cds.token("https://trdnav.example.org/x"), settings, key_sets)
    assert not keys_at_hand(by_url, settings, key_sets)
    # not a JWT, no token, an unknown issuer: refused without a fetch
    assert keys_at_hand("not-a-jwt", settings, key_sets)
    assert keys_at_hand(None, settings, key_sets)
    assert keys_at_hand(cds.token("https://x", iss="https://unknown.example"), settings, key_sets)

    key_sets.get(url_client, allow_http=True)
    assert keys_at_hand(by_url, settings, key_sets)
    assert key_sets.at_hand(url_client, "ec-1")
    assert key_sets.at_hand(url_client, "no-such-key")  # fetched just now: not again
    now[0] += REFETCH_AFTER
    assert key_sets.at_hand(url_client, "ec-1")
    assert not key_sets.at_hand(url_client, "no-such-key")
    now[0] += KEYS_TTL
    assert not key_sets.at_hand(url_client, "ec-1")
    assert key_sets.at_hand(file_client, "no-such-key")


def _long_jti(cds, body):
    url = cds.audience(SERVICE)
    return lambda: cds.call(SERVICE, body, token=cds.token(url, jti="j" * 256))


def _call_from_far(cds, body):
    return lambda: cds.call(SERVICE, body, headers={"X-Forwarded-For": "a" * 65})


def _feedback_from_far(cds, body):
    card = cds.call(SERVICE, body).json()["cards"][0]["uuid"]
    feedback = {
        "feedback": [
            {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-26T10:05:31Z"}
        ]
    }
    far = {"X-Forwarded-For": "a" * 65}
    return lambda: cds.call(SERVICE, feedback, path="/feedback", headers=far)


@pytest.mark.parametrize(
    ("prepare", "status", "said"),
    [
        pytest.param(
            _long_jti,
            401,
            "the JWT's jti is 256 characters long; at most 255 are kept",
            id="jti",
        ),
        pytest.param(_call_from_far, 422, "X-Forwarded-For", id="call's client address"),
        pytest.param(_feedback_from_far, 422, "X-Forwarded-For", id="feedback's address"),
    ],
)
def test_text_longer_than_the_database_keeps_is_refused_and_nothing_stored(
    cds, store, prepare, status, said
):
    """PostgreSQL refuses text longer than its column (an internal error); a jti was cut to
    fit, so that two tokens whose ids begin alike were one. Each is refused instead, and the
    call stores no card, feedback or audit record."""
    body = cds.request(prefetch=cds.prefetch())
    send = prepare(cds, body)

    def stored():
        with store.reading() as session:
            return [
                session.scalar(select(func.count()).where(table.clinic_id == cds.clinic_id))
                for table in (CdsCard, CdsFeedback, AuditEvent)
            ] + [session.scalar(select(func.count()).where(CdsJti.jti.startswith("j" * 255)))]

    before = stored()
    response = send()
    assert response.status_code == status, response.text
    assert said in response.text
    assert stored() == before


def test_a_jti_as_long_as_is_kept_is_accepted(cds):
    url = cds.audience(SERVICE)
    token = cds.token(url, jti="j" * 255)
    assert cds.call(SERVICE, cds.request(prefetch=cds.prefetch()), token=token).status_code == 200
    assert "jti replay" in refused(cds, token)


def test_with_a_public_url_only_it_is_the_audience(cds):
    """The URL called counted too, and it comes from the Host header: a service an EHR also
    calls could replay the EHR's token for it here, naming its own host."""
    elsewhere = "https://evil.example/cds-services/" + SERVICE
    token = cds.token(elsewhere)
    spoofed = cds.call(
        SERVICE,
        cds.request(prefetch=cds.prefetch()),
        token=token,
        headers={"Host": "evil.example", "X-Forwarded-Proto": "https"},
    )
    assert spoofed.status_code == 401
    assert "JWT aud must be the URL called (https://trdnav.example.org/" in spoofed.text
    assert "JWT aud must be" in refused(cds, cds.token(cds.service_url(SERVICE)))


@pytest.mark.parametrize(("alg", "kid"), [("ES384", "rsa-1"), ("RS384", "ec-1"), ("PS384", "ec-1")])
def test_an_algorithm_that_does_not_fit_its_key_is_refused_not_a_server_error(cds, alg, kid):
    """No valid signature is needed to reach the key: a header naming an EC key with an RSA
    algorithm (or the reverse) was a 500 for anyone who knew a client's issuer and kid."""
    url = cds.audience(SERVICE)
    head = {"alg": alg, "kid": kid, "typ": "JWT"}
    now = int(time.time())
    claims = {"iss": ISS, "aud": url, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}

    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    token = f"{part(head)}.{part(claims)}.AAAA"
    assert f"algorithm {alg} is not one for key {kid!r}" in refused(cds, token)
    assert f"algorithm {alg} is not one for key {kid!r}" in refused(cds, token, "/feedback")
