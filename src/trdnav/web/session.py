"""The browser session: a signed cookie holding the bearer token and a CSRF token.

The cookie is ``HttpOnly`` and ``SameSite=Lax`` (and ``Secure`` over HTTPS), scoped to
``/app``. Its payload is JSON, base64url-encoded and signed with HMAC-SHA256 under a key
derived from the server's token key, so every worker process accepts the cookies of the
others and nobody can forge or alter one. The bearer token inside is the API's own: each
request resolves it as the API does, so disabling a user ends their sessions at once.

The CSRF token is random per session (replaced at sign-in) and every state-changing form
carries it; a POST whose token does not match is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["COOKIE", "SessionData", "SessionSigner"]

COOKIE = "trdnav_session"


@dataclass(frozen=True)
class SessionData:
    token: str | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    flash: str | None = None
    """A one-time message for the next page (after a redirect)."""

    def with_flash(self, message: str | None) -> SessionData:
        return replace(self, flash=message)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Signs and verifies session cookies."""

    def __init__(self, token_key: str) -> None:
        self._key = hashlib.sha256(b"trdnav web session\x00" + token_key.encode()).digest()

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def dumps(self, data: SessionData) -> str:
        body: dict[str, Any] = {"c": data.csrf}
        if data.token:
            body["t"] = data.token
        if data.flash:
            body["f"] = data.flash
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._mac(payload)}"

    def loads(self, cookie: str | None) -> SessionData | None:
        """The session in a cookie, or None if it is missing, altered or malformed."""
        if not cookie or not cookie.isascii() or cookie.count(".") != 1:
            return None
        payload, mac = cookie.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            body = json.loads(_unb64(payload))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(body, dict) or not isinstance(body.get("c"), str):
            return None
        token, flash = body.get("t"), body.get("f")
        return SessionData(
            token=token if isinstance(token, str) else None,
            csrf=body["c"],
            flash=flash if isinstance(flash, str) else None,
        )
