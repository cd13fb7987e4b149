"""The address a request came from, as the audit log and the login throttle keep it (for the
API, the web app and the CDS service alike)."""

from __future__ import annotations

from starlette.requests import Request

from trdnav.errors import InputError, Problem
from trdnav.store.tables import REMOTE_ADDR_LENGTH

__all__ = ["client_address"]


def client_address(request: Request) -> str | None:
    """The client's address: the connection's, or the one a trusted proxy names in
    ``X-Forwarded-For`` (the server takes it from there). Refused when longer than any
    address, since it could not be kept with what the request does."""
    host = request.client.host if request.client else None
    if host is not None and len(host) > REMOTE_ADDR_LENGTH:
        expected = f"a client address of at most {REMOTE_ADDR_LENGTH} characters"
        raise InputError([Problem("X-Forwarded-For", host, expected)])
    return host
