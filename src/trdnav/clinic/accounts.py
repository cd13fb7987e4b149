"""Clinics, users, passwords, login tokens and login throttling.

Passwords are hashed with argon2. A login gives a signed bearer token (JWT, HS256) that
names the user, their clinic, their role and their token version; disabling a user or
resetting their password bumps the version, so older tokens stop working at once. Failed
logins are counted in the database, so every server process sees the same count.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, String, bindparam, delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from trdnav.clinic import audit
from trdnav.clinic.actor import Actor
from trdnav.errors import (
    Conflict,
    InputError,
    NotAuthenticated,
    NotFound,
    Problem,
    TooManyRequests,
)
from trdnav.settings import Settings
from trdnav.store.database import Store
from trdnav.store.tables import (
    CLINIC_NAME_LENGTH,
    EMAIL_LENGTH,
    ROLES,
    USER_NAME_LENGTH,
    Clinic,
    LoginFailure,
    RevokedToken,
    ServerSecret,
    User,
    utcnow,
)

__all__ = [
    "Login",
    "add_clinic",
    "add_user",
    "authenticate",
    "change_user",
    "find_clinic",
    "find_user",
    "generate_password",
    "list_users",
    "resolve_token",
    "resolve_token_on",
    "revoke_token",
    "set_active",
    "set_password",
    "token_key",
]

_hasher = PasswordHasher()
ALGORITHM = "HS256"
MIN_PASSWORD = 10


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD or not password.strip():
        expected = f"at least {MIN_PASSWORD} characters, not all of them spaces"
        raise InputError([Problem("password", "(hidden)", expected)])


_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
"""One @, a local part before it, and a domain of dot-separated labels (at least two)."""


def _lower_email(email: str) -> str:
    """The address as it is kept, lower case; refused when longer than it can be kept
    (lower case can be longer: "İ" is "i" and a combining dot)."""
    address = email.strip().lower()
    if len(address) > EMAIL_LENGTH:
        expected = f"an e-mail address of at most {EMAIL_LENGTH} characters"
        raise InputError([Problem("email", f"{len(address)} characters", expected)])
    return address


def _normal_email(email: str) -> str:
    address = _lower_email(email)
    if not _EMAIL.fullmatch(address):
        expected = "an e-mail address: one @ between a name and a domain such as clinic.example"
        raise InputError([Problem("email", email, expected)])
    return address


def _printable_name(name: str, what: str) -> None:
    """Refuse a name holding a control character (a tab, a line break): listed one per
    line, with tabs between the fields, it would read as another clinic or user."""
    if any(unicodedata.category(c) == "Cc" for c in name):
        expected = f"{what} without control characters (tabs, line breaks)"
        raise InputError([Problem("name", name, expected)])


MAX_ROW_ID = 2**31 - 1
"""The largest id a row can have; a larger number is no clinic's."""


def add_clinic(store: Store, name: str) -> Clinic:
    """A new clinic. Its name must be new (case aside) and not all digits, since
    ``--clinic`` and ``cds_clients`` take a clinic's id or its name."""
    name = name.strip()
    if not name:
        raise InputError([Problem("name", name, "a clinic name")])
    if name.isdigit():
        expected = "a clinic name that is not all digits (a number is read as a clinic id)"
        raise InputError([Problem("name", name, expected)])
    if len(name) > CLINIC_NAME_LENGTH:
        expected = f"a clinic name of at most {CLINIC_NAME_LENGTH} characters"
        raise InputError([Problem("name", f"{len(name)} characters", expected)])
    _printable_name(name, "a clinic name")
    key = name.casefold()
    try:
        with store.transaction() as session:
            same = [c for c in session.scalars(select(Clinic)) if c.name.casefold() == key]
            if same:
                raise InputError([_name_taken(name, same[0])])
            clinic = Clinic(name=name, name_key=key)
            session.add(clinic)
            session.flush()
            audit.record(
                session, Actor.command_line(clinic.id), "clinic.create", detail={"name": name}
            )
    except IntegrityError:
        # Another clinic of this name was added since the check (the unique key decides).
        with store.reading() as session:
            other = session.scalars(select(Clinic).where(Clinic.name_key == key)).first()
        if other is None:
            raise
        raise InputError([_name_taken(name, other)]) from None
    return clinic


def _name_taken(name: str, other: Clinic) -> Problem:
    return Problem(
        "name", name, f"a name no other clinic has (clinic {other.id} is {other.name!r})"
    )


def find_clinic(store: Store, ref: str) -> Clinic:
    """A clinic by id or exact name. A name that several clinics have (a database from
    before names had to differ) is refused: the clinic must then be given by its id."""
    with store.reading() as session:
        match = Clinic.name == ref
        if ref.isascii() and ref.isdigit() and int(ref) <= MAX_ROW_ID:
            match = match | (Clinic.id == int(ref))
        found = list(session.scalars(select(Clinic).where(match).order_by(Clinic.id)))
    if not found:
        raise NotFound(f"no clinic {ref!r}; create it with `trdnav clinic add`")
    if len(found) > 1:
        ids = ", ".join(str(c.id) for c in found)
        expected = f"one clinic: give its id, since clinics {ids} all answer to {ref!r}"
        raise InputError([Problem("clinic", ref, expected)])
    return found[0]


def add_user(
    store: Store, actor: Actor, *, email: str, name: str, role: str, password: str
) -> User:
    actor.require_admin()
    if role not in ROLES:
        raise InputError([Problem("role", role, f"one of {', '.join(ROLES)}")])
    _check_password(password)
    address = _normal_email(email)
    name = name.strip()
    if len(name) > USER_NAME_LENGTH:
        expected = f"a name of at most {USER_NAME_LENGTH} characters"
        raise InputError([Problem("name", f"{len(name)} characters", expected)])
    _printable_name(name, "a name")
    try:
        with store.transaction() as session:
            user = User(
                clinic_id=actor.clinic_id,
                email=address,
                # no name given: the address stands for it, as much of it as a name holds
                name=name or address[:USER_NAME_LENGTH],
                role=role,
                password_hash=_hasher.hash(password),
                active=True,
                token_version=0,
            )
            session.add(user)
            session.flush()
            audit.record(
                session,
                actor,
                "user.create",
                resource=f"user/{user.id}",
                detail={"email": address, "role": role},
            )
    except IntegrityError:
        raise Conflict(f"a user with e-mail {address} exists already") from None
    return user


def list_users(store: Store, actor: Actor) -> list[User]:
    """The users of the actor's clinic, by e-mail (administrators only)."""
    actor.require_admin()
    with store.reading() as session:
        return list(
            session.scalars(
                select(User).where(User.clinic_id == actor.clinic_id).order_by(User.email)
            )
        )


def _user(session: Session, actor: Actor, email: str) -> User:
    user = session.scalars(
        select(User).where(User.email == email.strip().lower(), User.clinic_id == actor.clinic_id)
    ).first()
    if user is None:
        raise NotFound(f"no user {email!r} in this clinic")
    return user


def find_user(store: Store, actor: Actor, email: str) -> User:
    actor.require_admin()
    with store.reading() as session:
        return _user(session, actor, email)


def set_active(store: Store, actor: Actor, email: str, active: bool) -> User:
    """Enable or disable a user (revoking their tokens). The last active administrator of a
    clinic cannot be disabled: nobody could then manage its users."""
    return change_user(store, actor, email, active=active)


def set_password(store: Store, actor: Actor, email: str, password: str) -> User:
    """Set a user's password (revoking their tokens)."""
    return change_user(store, actor, email, password=password)


def change_user(
    store: Store,
    actor: Actor,
    email: str,
    *,
    active: bool | None = None,
    password: str | None = None,
) -> User:
    """Enable or disable a user and set their password, in one transaction: both changes,
    or neither when either is refused (:func:`set_active`, :func:`set_password`)."""
    actor.require_admin()
    if password is not None:
        _check_password(password)
    with store.transaction() as session:
        user = _user(session, actor, email)
        if active is not None:
            _activate(session, actor, user, active)
        if password is not None:
            user.password_hash = _hasher.hash(password)
            user.token_version += 1
            audit.record(
                session,
                actor,
                "user.password_reset",
                resource=f"user/{user.id}",
                detail={"email": user.email},
            )
    return user


def _activate(session: Session, actor: Actor, user: User, active: bool) -> None:
    if not active and user.active and user.role == "admin":
        admins = session.scalars(
            select(User.id)
            .where(
                User.clinic_id == actor.clinic_id,
                User.role == "admin",
                User.active.is_(True),
            )
            .with_for_update()
        ).all()
        if set(admins) <= {user.id}:
            raise Conflict(
                f"{user.email} is the clinic's last active administrator; add or enable "
                "another administrator first"
            )
    user.active = active
    user.token_version += 1
    audit.record(
        session,
        actor,
        "user.enable" if active else "user.disable",
        resource=f"user/{user.id}",
        detail={"email": user.email},
    )


def token_key(store: Store, settings: Settings) -> str:
    """The key that signs tokens: the setting, else one kept in the database (made once)."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    with store.reading() as session:
        row = session.get(ServerSecret, "token_key")
        if row is not None:
            return row.value
    try:
        with store.transaction() as session:
            session.add(ServerSecret(name="token_key", value=secrets.token_urlsafe(48)))
    except IntegrityError:
        pass  # another process made it first
    with store.reading() as session:
        row = session.get(ServerSecret, "token_key")
        assert row is not None
        return row.value


@dataclass(frozen=True)
class Login:
    token: str
    expires_in: int
    user: User


def _throttle(
    session: Session, settings: Settings, email: str, remote: str | None, now: datetime
) -> None:
    since = now - timedelta(minutes=settings.login_window_minutes)
    by_email = session.scalar(
        select(func.count()).where(LoginFailure.email == email, LoginFailure.at >= since)
    )
    by_addr = 0
    if remote:
        by_addr = (
            session.scalar(
                select(func.count()).where(
                    LoginFailure.remote_addr == remote, LoginFailure.at >= since
                )
            )
            or 0
        )
    if (by_email or 0) >= settings.login_max_failures or by_addr >= 4 * settings.login_max_failures:
        raise TooManyRequests(
            "too many failed logins; try again later",
            retry_after=settings.login_window_minutes * 60,
        )


def authenticate(
    store: Store, settings: Settings, email: str, password: str, remote_addr: str | None
) -> Login:
    """Check a password and issue a token. Failures are counted and throttled."""
    now = utcnow()
    address = _lower_email(email)  # no user has a longer one, and no failure could be kept
    with store.reading() as session:
        _throttle(session, settings, address, remote_addr, now)
        user = session.scalars(select(User).where(User.email == address)).first()
        ok = False
        if user is not None and user.active:
            try:
                ok = _hasher.verify(user.password_hash, password)
            except (VerificationError, InvalidHashError):
                ok = False
        elif user is None:
            _hasher.hash(password)  # spend the same time as a real check
    if not ok or user is None:
        with store.transaction() as session:
            session.add(LoginFailure(email=address, remote_addr=remote_addr, at=now))
            if user is not None:
                audit.record(
                    session,
                    Actor(
                        clinic_id=user.clinic_id,
                        role=user.role,
                        email=address,
                        remote_addr=remote_addr,
                    ),
                    "login.failed",
                )
        raise NotAuthenticated("e-mail or password not recognised")
    actor = Actor(
        clinic_id=user.clinic_id,
        role=user.role,
        user_id=user.id,
        email=user.email,
        remote_addr=remote_addr,
    )
    with store.transaction() as session:
        if _hasher.check_needs_rehash(user.password_hash):
            fresh = session.get(User, user.id)
            if fresh is not None:
                fresh.password_hash = _hasher.hash(password)
        audit.record(session, actor, "login")
    lifetime = settings.token_minutes * 60
    claims = {
        "sub": str(user.id),
        "clinic": user.clinic_id,
        "role": user.role,
        "tv": user.token_version,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + lifetime,
        "jti": uuid.uuid4().hex,
    }
    token = jwt.encode(claims, token_key(store, settings), algorithm=ALGORITHM)
    return Login(token=token, expires_in=lifetime, user=user)


# a plain row, not an ORM object, from a statement built once: this runs on every
# authenticated request
_TOKEN_USER = (
    select(
        User.id,
        User.clinic_id,
        User.role,
        User.email,
        User.active,
        User.token_version,
        Clinic.settings.label("clinic_settings"),
        exists().where(RevokedToken.jti == bindparam("jti", type_=String)).label("revoked"),
    )
    .join(Clinic, Clinic.id == User.clinic_id)
    .where(User.id == bindparam("user_id"))
)


def resolve_token(
    store: Store, key: str, token: str, remote_addr: str | None, request_id: str | None
) -> Actor:
    """The actor a bearer token stands for; the user must still be active and current."""
    with store.engine.begin() as connection:
        return resolve_token_on(connection, key, token, remote_addr, request_id)


def resolve_token_on(
    connection: Connection, key: str, token: str, remote_addr: str | None, request_id: str | None
) -> Actor:
    """:func:`resolve_token` in a transaction of a Core connection."""
    try:
        claims = jwt.decode(
            token, key, algorithms=[ALGORITHM], options={"require": ["exp", "sub", "tv"]}
        )
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated("the token has expired; sign in again") from None
    except jwt.InvalidTokenError:
        raise NotAuthenticated("the token is not valid") from None
    if not str(claims["sub"]).isdigit():
        raise NotAuthenticated("the token is not valid")
    jti = claims.get("jti") if isinstance(claims.get("jti"), str) else None
    user = connection.execute(
        _TOKEN_USER, {"user_id": int(claims["sub"]), "jti": jti}
    ).one_or_none()
    if user is None or not user.active or user.token_version != claims["tv"] or user.revoked:
        raise NotAuthenticated("the token is no longer valid; sign in again")
    return Actor(
        clinic_id=user.clinic_id,
        role=user.role,
        user_id=user.id,
        email=user.email,
        remote_addr=remote_addr,
        request_id=request_id,
        timezone=zone_of(user.clinic_settings),
    )


def revoke_token(store: Store, key: str, token: str) -> None:
    """End a sign-in token before its expiry (signing out): it is refused from now on, and
    tokens revoked earlier that have since expired are forgotten. An invalid or expired
    token needs nothing."""
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["exp"]})
    except jwt.InvalidTokenError:
        return
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 64:
        return
    now = utcnow()
    with store.transaction() as session:
        session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
        if session.get(RevokedToken, jti) is None:
            expires = datetime.fromtimestamp(int(claims["exp"]), UTC)
            session.add(RevokedToken(jti=jti, expires_at=expires))


def zone_of(clinic_settings: dict[str, Any] | None) -> str | None:
    """A clinic's own time zone setting, from its stored settings (None: the server's)."""
    return (clinic_settings or {}).get("timezone") or None


def clinic_zone(store: Store, clinic_id: int) -> str | None:
    """The time zone setting of clinic ``clinic_id`` (None: the server's)."""
    with store.engine.begin() as connection:
        found = connection.execute(select(Clinic.settings).where(Clinic.id == clinic_id)).first()
    return zone_of(found[0] if found else None)
