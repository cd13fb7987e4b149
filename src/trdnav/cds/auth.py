"""Authenticating CDS clients: the signed JWT of CDS Hooks 2.0 ("Trusting CDS Clients").

A call must carry ``Authorization: Bearer <JWT>`` where the JWT

* is signed with an asymmetric algorithm (RSA, RSA-PSS, ECDSA or EdDSA; never ``none`` or
  HMAC), its header naming the key (``kid``) and, if it says, ``typ`` ``JWT``;
* is issued (``iss``) by a client of the ``cds_clients`` setting, and verifies with a key of
  that client's JWKS (a ``jku`` header, if given, must be that JWKS's URL);
* has ``aud`` equal to the URL called (as a string or in a list), ``exp``, ``iat`` and ``jti``;
* has not been used before: its ``jti`` (at most 255 characters) is recorded (per issuer)
  until it expires, in the database, so a replay is refused by every server process.

Anything else is a :class:`~trdnav.errors.NotAuthenticated` saying what was wrong.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
from sqlalchemy import Connection, delete, insert
from sqlalchemy.exc import IntegrityError

from trdnav import json_text
from trdnav.clinic import accounts
from trdnav.errors import NotAuthenticated, NotFound
from trdnav.settings import CdsClient, Settings
from trdnav.store.database import Store
from trdnav.store.tables import JTI_LENGTH, CdsJti

__all__ = [
    "ASYMMETRIC",
    "CdsCaller",
    "KeySets",
    "TokenUse",
    "authenticate",
    "keys_at_hand",
    "record_use",
    "verify",
]

ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
LEEWAY = 60
"""Seconds of clock difference allowed on ``exp`` and ``iat``."""
KEYS_TTL = 300
"""Seconds a JWKS fetched from a URL is kept before it is fetched again."""
REFETCH_AFTER = 10
"""Seconds before a token naming a key not in its client's fetched JWKS fetches it again."""
PURGE_EVERY = 60
"""Seconds between deletions of expired token ids."""


@dataclass(frozen=True)
class CdsCaller:
    """An authenticated CDS client: its issuer and the clinic it serves."""

    iss: str
    clinic_id: int
    tenant: str | None = None


@dataclass(frozen=True)
class TokenUse:
    """A verified token's ``jti``, to be recorded (:func:`record_use`) before its call counts."""

    iss: str
    jti: str
    expires_at: datetime
    """When the record may be deleted: the token's ``exp`` plus the leeway."""


def is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine: ``localhost`` or a loopback address (``127.0.0.0/8``,
    ``::1``), never a name that merely starts like one (``127.example.org``)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class KeySets:
    """The JWKS of each client: inline, from a file, or fetched from a URL (cached).

    Parsed key sets are kept per process: an inline JWKS by its content, a file by its path,
    size and modification time (an edited file is read again), a URL for ``KEYS_TTL`` seconds.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        """Seconds, for the age of fetched key sets."""
        self._cache: dict[str, tuple[float, jwt.PyJWKSet]] = {}
        self._parsed: dict[Any, jwt.PyJWKSet] = {}
        """Key sets of inline JWKS (by their JSON text) and of files (by path and stat)."""
        self._lock = threading.Lock()
        self.clinics: dict[str, int] = {}
        """Each client's clinic id, found once (clinics are not renamed)."""
        self.purged = 0.0

    def _fetch(self, source: str, allow_http: bool) -> jwt.PyJWKSet:
        if source.startswith("http://") and not (allow_http and is_loopback(source)):
            raise NotAuthenticated(f"the JWKS of this client must be fetched over https: {source}")
        try:
            response = httpx.get(source, timeout=10)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise NotAuthenticated(f"the client's JWKS could not be fetched ({exc})") from None
        return _key_set(data)

    def _inline(self, text: str, data: Any) -> jwt.PyJWKSet:
        keys = self._parsed.get(text)
        if keys is None:
            keys = _key_set(data)
            with self._lock:
                self._parsed[text] = keys
        return keys

    def _file(self, source: str) -> jwt.PyJWKSet:
        path = Path(source)
        try:
            stat = path.stat()
            version = ("file", source, stat.st_size, stat.st_mtime_ns)
            keys = self._parsed.get(version)
            if keys is not None:
                return keys
            data = json_text.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise NotAuthenticated(f"the client's JWKS could not be read ({exc})") from None
        keys = _key_set(data)
        with self._lock:
            self._parsed[version] = keys
        return keys

    def at_hand(self, client: CdsClient, kid: Any) -> bool:
        """Whether :meth:`get`, as :func:`verify` calls it for a token naming key ``kid``,
        needs nothing from the network: the client's JWKS is inline or a file, or a URL
        fetched less than ``KEYS_TTL`` seconds ago that holds the key (or was fetched less
        than ``REFETCH_AFTER`` seconds ago, so that an unknown key is not fetched again)."""
        source = _jwks_url(client)
        if source is None:
            return True
        with self._lock:
            cached = self._cache.get(source)
        if cached is None:
            return False
        age = self._clock() - cached[0]
        holds_key = any(k.key_id == kid for k in cached[1].keys)
        return age < KEYS_TTL and (age < REFETCH_AFTER or holds_key)

    def get(self, client: CdsClient, allow_http: bool, *, refresh: bool = False) -> jwt.PyJWKSet:
        if isinstance(client.jwks, dict):
            return self._inline(json.dumps(client.jwks, sort_keys=True), client.jwks)
        source = client.jwks.strip()
        if source.startswith("{"):
            if source in self._parsed:
                return self._parsed[source]
            try:
                data = json_text.loads(source)
            except ValueError as exc:
                raise NotAuthenticated(f"the client's JWKS is not valid JSON ({exc})") from None
            return self._inline(source, data)
        if _jwks_url(client) is None:
            return self._file(source)
        with self._lock:
            cached = self._cache.get(source)
            fresh = cached is not None and self._clock() - cached[0] < KEYS_TTL
            if cached is not None and fresh and not refresh:
                return cached[1]
            if cached is not None and refresh and self._clock() - cached[0] < REFETCH_AFTER:
                return cached[1]  # an unknown kid refetches at most every REFETCH_AFTER s
        keys = self._fetch(source, allow_http)
        with self._lock:
            self._cache[source] = (self._clock(), keys)
        return keys


def _jwks_url(client: CdsClient) -> str | None:
    """The URL the client's JWKS is fetched from; None when it is inline or a file."""
    if isinstance(client.jwks, dict):
        return None
    source = client.jwks.strip()
    return source if source.startswith(("https://", "http://")) else None


def _key_set(data: Any) -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_dict(data)
    except (jwt.PyJWKSetError, jwt.PyJWKError, TypeError, ValueError) as exc:
        raise NotAuthenticated(f"the client's JWKS is not a valid key set ({exc})") from None


def keys_at_hand(token: str | None, settings: Settings, key_sets: KeySets) -> bool:
    """Whether verifying ``token`` needs nothing from the network: the keys of the client it
    names are at hand with its key (:meth:`KeySets.at_hand`), or it is not a JWT of a
    registered client (it is then refused without a fetch)."""
    if not token:
        return True
    try:
        header, unverified = _claims(token)
    except NotAuthenticated:
        return True
    iss = unverified.get("iss")
    client = settings.cds_clients.get(iss) if isinstance(iss, str) else None
    return client is None or key_sets.at_hand(client, header.get("kid"))


def _segment(part: str) -> dict[str, Any]:
    value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    if not isinstance(value, dict):
        raise ValueError(part)
    return value


def _claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The token's header and claims, unverified: only to find the client and its key. The
    token is then read again, strictly, and verified by ``jwt.decode``."""
    parts = token.split(".")
    try:
        if len(parts) != 3:
            raise ValueError(token)
        return _segment(parts[0]), _segment(parts[1])
    except ValueError:
        raise NotAuthenticated("the bearer token is not a JWT") from None


def authenticate(
    token: str | None,
    audiences: list[str],
    settings: Settings,
    store: Store,
    key_sets: KeySets,
) -> CdsCaller:
    """The caller of a CDS request whose JWT is ``token``, called at one of ``audiences``; its
    ``jti`` is recorded at once (in a transaction of its own)."""
    caller, use = verify(token, audiences, settings, store, key_sets)
    with store.engine.begin() as connection:
        record_use(connection, use, key_sets)
    return caller


def verify(
    token: str | None,
    audiences: list[str],
    settings: Settings,
    store: Store,
    key_sets: KeySets,
) -> tuple[CdsCaller, TokenUse]:
    """The caller of a CDS request whose JWT is ``token``, called at one of ``audiences``, and
    the token's use, which the caller must record with :func:`record_use` in the transaction
    that stores what the call did: a call counts only with its ``jti`` recorded, once."""
    if not token:
        raise NotAuthenticated("a CDS client must send 'Authorization: Bearer <JWT>'")
    header, unverified = _claims(token)
    alg = header.get("alg")
    if alg not in ASYMMETRIC:
        raise NotAuthenticated(
            f"JWT algorithm {alg!r} is not allowed: CDS Hooks clients sign with an asymmetric "
            "algorithm (ES384 or RS384 recommended), never none or HMAC"
        )
    if header.get("typ") not in (None, "JWT"):
        raise NotAuthenticated(f"JWT typ must be 'JWT', not {header.get('typ')!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise NotAuthenticated("the JWT header must name its key (kid)")
    iss = unverified.get("iss")
    if not isinstance(iss, str) or iss not in settings.cds_clients:
        raise NotAuthenticated(f"JWT issuer {iss!r} is not a registered CDS client")
    client = settings.cds_clients[iss]
    jku = header.get("jku")
    if jku is not None and jku != client.jwks:
        raise NotAuthenticated(f"JWT jku {jku!r} is not the JWKS registered for {iss}")
    allow_http = settings.cds_allow_http_loopback
    keys = key_sets.get(client, allow_http)
    found = next((k for k in keys.keys if k.key_id == kid), None)
    if found is None:
        keys = key_sets.get(client, allow_http, refresh=True)
        found = next((k for k in keys.keys if k.key_id == kid), None)
    if found is None:
        raise NotAuthenticated(f"no key {kid!r} in the JWKS of {iss}")
    try:
        claims = jwt.decode(
            token,
            key=found.key,
            algorithms=[alg],
            audience=audiences,
            issuer=iss,
            leeway=LEEWAY,
            options={"require": ["iss", "aud", "exp", "iat", "jti"]},
        )
    except jwt.InvalidAudienceError:
        raise NotAuthenticated(
            f"JWT aud must be the URL called ({audiences[0]}); got {unverified.get('aud')!r}"
        ) from None
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated("the JWT has expired") from None
    except jwt.ImmatureSignatureError:
        raise NotAuthenticated("the JWT is not valid yet (iat in the future)") from None
    except jwt.MissingRequiredClaimError as exc:
        raise NotAuthenticated(f"the JWT has no {exc.claim!r} claim") from None
    except jwt.PyJWTError as exc:
        raise NotAuthenticated(f"the JWT does not verify ({exc})") from None
    except (TypeError, ValueError):  # the algorithm is not one for this kind of key
        raise NotAuthenticated(
            f"the JWT does not verify: algorithm {alg} is not one for key {kid!r} of {iss}"
        ) from None
    if claims["iat"] > time.time() + LEEWAY:
        raise NotAuthenticated("the JWT is issued in the future (iat)")
    jti = str(claims["jti"])
    if len(jti) > JTI_LENGTH:
        # kept whole or not at all: a shortened id would make another token's a replay
        raise NotAuthenticated(
            f"the JWT's jti is {len(jti)} characters long; at most {JTI_LENGTH} are kept to "
            "refuse replays"
        )
    clinic = key_sets.clinics.get(client.clinic)
    if clinic is None:
        clinic = key_sets.clinics.setdefault(client.clinic, _clinic(store, client.clinic))
    tenant = claims.get("tenant")
    try:
        expires = datetime.fromtimestamp(float(claims["exp"]), UTC) + timedelta(seconds=LEEWAY)
    except (OverflowError, OSError, ValueError):
        raise NotAuthenticated(
            f"the JWT's exp ({claims['exp']!r}) is not a time: it must be seconds since 1970, "
            "a few minutes after iat"
        ) from None
    return (
        CdsCaller(iss, clinic, tenant if isinstance(tenant, str) else None),
        TokenUse(iss, jti, expires),
    )


_RECORD_JTI = insert(CdsJti)


def record_use(connection: Connection, use: TokenUse, key_sets: KeySets) -> None:
    """Record a token's jti in the connection's transaction; a jti recorded before (and not
    yet expired) is a replay: :class:`NotAuthenticated`, and the transaction must not commit
    (the exception leaves it). The unique key on (iss, jti) decides, so two processes sharing
    the database cannot both record one jti. Expired ids are deleted at most once a minute
    per process."""
    if time.monotonic() - key_sets.purged > PURGE_EVERY:
        key_sets.purged = time.monotonic()
        connection.execute(delete(CdsJti).where(CdsJti.expires_at < datetime.now(UTC)))
    try:
        connection.execute(
            _RECORD_JTI, {"iss": use.iss[:255], "jti": use.jti, "expires_at": use.expires_at}
        )
    except IntegrityError:
        raise NotAuthenticated("this JWT has been used before (jti replay)") from None


def _clinic(store: Store, clinic: str) -> int:
    try:
        return accounts.find_clinic(store, clinic).id
    except NotFound:
        raise NotAuthenticated(f"the clinic {clinic!r} of this CDS client does not exist") from None
