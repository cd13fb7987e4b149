"""Accounts over HTTP: sign-in, tokens, throttling, revocation; secrets never logged."""

import logging
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from sqlalchemy import select

from trdnav.clinic import accounts
from trdnav.clinic.actor import Actor
from trdnav.store.tables import AuditEvent, RevokedToken

PASSWORD = "correct horse battery"


def login(server, email, password):
    return httpx.post(f"{server.url}/auth/login", json={"email": email, "password": password})


def test_login_gives_a_bearer_token_with_expiry(server, clinic):
    response = login(server, clinic.emails["clinician"], PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 480 * 60
    assert body["user"]["role"] == "clinician"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 480 * 60
    me = httpx.get(
        f"{server.url}/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    ).json()
    assert me["email"] == clinic.emails["clinician"]


def test_wrong_password_and_unknown_user_look_the_same(server, clinic):
    wrong = login(server, clinic.emails["clinician"], "not the password")
    unknown = login(server, "nobody@nowhere.test", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]


def test_password_guessing_is_throttled(server, clinic):
    email = clinic.emails["viewer"]
    for _ in range(5):
        assert login(server, email, "guess").status_code == 401
    blocked = login(server, email, PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert blocked.json()["type"] == "/problems/too-many-requests"
    assert login(server, clinic.emails["clinician"], PASSWORD).status_code == 200


def test_a_revoked_token_is_refused_and_expired_revocations_are_forgotten(server, clinic):
    key = accounts.token_key(server.store, server.settings)
    token = clinic.token("clinician")
    me = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server.url}/auth/me", headers=me).status_code == 200
    gone = datetime.now(UTC) - timedelta(days=1)
    with server.store.transaction() as session:
        session.add(RevokedToken(jti="an-old-one", expires_at=gone))
    accounts.revoke_token(server.store, key, token)
    refused = httpx.get(f"{server.url}/auth/me", headers=me)
    assert refused.status_code == 401
    assert "no longer valid" in refused.text
    accounts.revoke_token(server.store, key, token)  # again: nothing more to do
    accounts.revoke_token(server.store, key, "not a token")
    with server.store.reading() as session:
        kept = set(session.scalars(select(RevokedToken.jti)))
    assert "an-old-one" not in kept
    assert jwt.decode(token, key, algorithms=["HS256"])["jti"] in kept


def test_expired_and_forged_tokens_are_refused(server, clinic):
    key = accounts.token_key(server.store, server.settings)
    user_id = httpx.get(
        f"{server.url}/auth/me", headers={"Authorization": f"Bearer {clinic.token('clinician')}"}
    ).json()["id"]
    now = int(time.time())
    expired = jwt.encode(
        {"sub": str(user_id), "tv": 0, "exp": now - 10, "iat": now - 100}, key, algorithm="HS256"
    )
    forged = jwt.encode(
        {"sub": str(user_id), "tv": 0, "exp": now + 100},
        "a guessed key that is long enough to sign",
        algorithm="HS256",
    )
    none_alg = jwt.encode({"sub": str(user_id), "tv": 0, "exp": now + 100}, None, algorithm="none")
    # signed with the server's key but naming no user id: refused, never a server error
    odd_subject = jwt.encode({"sub": "admin", "tv": 0, "exp": now + 100}, key, algorithm="HS256")
    for token, message in (
        (expired, "expired"),
        (odd_subject, "not valid"),
        (forged, "not valid"),
        (none_alg, "not valid"),
        ("garbage", "not valid"),
    ):
        response = httpx.get(f"{server.url}/patients", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert message in response.json()["detail"]


@pytest.mark.parametrize("change", ["disable", "reset"])
def test_disabling_or_resetting_revokes_tokens_at_once(server, clinic, change):
    with clinic.client("clinician") as client:
        assert client.get("/patients").status_code == 200
        actor = Actor.command_line(clinic.id)
        if change == "disable":
            accounts.set_active(server.store, actor, clinic.emails["clinician"], False)
        else:
            accounts.set_password(
                server.store, actor, clinic.emails["clinician"], "a brand new password"
            )
        assert client.get("/patients").status_code == 401
    again = login(server, clinic.emails["clinician"], PASSWORD)
    assert again.status_code == 401
    if change == "reset":
        assert login(server, clinic.emails["clinician"], "a brand new password").status_code == 200


def test_admins_manage_users_over_the_api(clinic):
    with clinic.client("admin") as admin:
        created = admin.post(
            "/users",
            json={
                "email": "New@Clinic.test",
                "name": "New",
                "role": "viewer",
                "password": "long enough pw",
            },
        )
        assert created.status_code == 201
        assert created.json()["email"] == "new@clinic.test"
        duplicate = admin.post(
            "/users",
            json={"email": "new@clinic.test", "role": "viewer", "password": "long enough pw"},
        )
        assert duplicate.status_code == 409
        short = admin.post(
            "/users", json={"email": "x@clinic.test", "role": "viewer", "password": "short"}
        )
        assert short.status_code == 422
        assert short.json()["errors"][0]["path"] == "password"
        assert "short" not in short.text
        users = {u["email"]: u for u in admin.get("/users").json()}
        assert users["new@clinic.test"]["role"] == "viewer"
        admin.patch("/users/new@clinic.test", json={"active": False})
        assert {u["email"]: u for u in admin.get("/users").json()}["new@clinic.test"][
            "active"
        ] is False


def test_a_refused_user_change_changes_nothing(server, clinic):
    """Enabling or disabling and a new password are one change: a refused password once
    left the user disabled (tokens revoked) under a 422 that said nothing was changed."""
    with clinic.client("admin") as admin:
        admin.post(
            "/users",
            json={"email": "t1@clinic.test", "role": "viewer", "password": "long enough pw"},
        )
        events = len(admin.get("/audit", params={"action": "user.disable"}).json())
        refused = admin.patch("/users/t1@clinic.test", json={"active": False, "password": "short"})
        assert refused.status_code == 422
        assert [e["path"] for e in refused.json()["errors"]] == ["password"]
        users = {u["email"]: u for u in admin.get("/users").json()}
        assert users["t1@clinic.test"]["active"] is True
        assert len(admin.get("/audit", params={"action": "user.disable"}).json()) == events
        assert login(server, "t1@clinic.test", "long enough pw").status_code == 200  # unchanged
        both = admin.patch(
            "/users/t1@clinic.test", json={"active": False, "password": "another long pw"}
        )
        assert both.status_code == 200
        assert both.json()["active"] is False


def test_secrets_never_reach_the_logs(server, clinic, caplog):
    secret = "a-very-secret-password-123"
    caplog.set_level(logging.DEBUG)
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "sqlalchemy", "trdnav"):
        logging.getLogger(name).propagate = True
    login(server, clinic.emails["admin"], secret)
    token = clinic.token("admin")
    httpx.get(f"{server.url}/patients", headers={"Authorization": f"Bearer {token}"})
    text = caplog.text
    assert secret not in text
    assert token not in text
    with server.store.reading() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.clinic_id == clinic.id)).all()
        assert all(secret not in str(r.detail) and token not in str(r.detail) for r in rows)
