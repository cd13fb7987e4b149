"""Who is asking: the signed-in user of a page, and the checked form of a POST.

``Reader`` resolves the session's bearer token exactly as the API resolves its
``Authorization`` header (``accounts.resolve_token``): a disabled user, a reset password or
an expired token ends the session. Without a valid session the request is sent to the
sign-in page. ``Writer`` also reads the form and refuses it unless it carries the session's
CSRF token.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.datastructures import FormData, UploadFile

from trdnav.clinic import accounts
from trdnav.clinic.actor import Actor
from trdnav.errors import NotAuthenticated, NotPermitted
from trdnav.remote import client_address
from trdnav.web.pages import app_state, session_of

if TYPE_CHECKING:
    from trdnav.api.state import AppState

__all__ = ["CsrfRejected", "Reader", "SignInRequired", "WebUser", "Writer", "login_url"]

MAX_PART_BYTES = 8 * 1024 * 1024


class SignInRequired(NotAuthenticated):
    """No session, or its token no longer stands for an active user."""

    def __init__(self, message: str, next_url: str | None = None) -> None:
        super().__init__(message)
        self.next_url = next_url


class CsrfRejected(NotPermitted):
    """A POST without this session's CSRF token."""


def login_url(next_url: str | None) -> str:
    if next_url and next_url.startswith("/app/") and not next_url.startswith("/app/login"):
        return "/app/login?next=" + quote(next_url, safe="/")
    return "/app/login"


@dataclass(frozen=True)
class WebUser:
    """The signed-in user of a request, with the app's state and (for a POST) the form."""

    actor: Actor
    state: AppState
    form: FormData | None = None

    @property
    def today(self) -> date:
        return self.state.today(self.actor)

    def field(self, name: str, default: str = "") -> str:
        """A text field of the form, stripped of surrounding whitespace."""
        if self.form is None:
            return default
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else default

    def fields(self, name: str) -> list[str]:
        if self.form is None:
            return []
        return [v.strip() for v in self.form.getlist(name) if isinstance(v, str)]

    def upload(self, name: str) -> UploadFile | None:
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, UploadFile) else None


def _next_url(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return request.url.path + query


def _actor(request: Request) -> Actor:
    state = app_state(request)
    session = session_of(request)
    next_url = _next_url(request) if request.method == "GET" else None
    if not session.token:
        raise SignInRequired("Sign in to continue.", next_url)
    try:
        return accounts.resolve_token(
            state.store,
            state.token_key(),
            session.token,
            client_address(request),
            getattr(request.state, "request_id", None),
        )
    except NotAuthenticated:
        raise SignInRequired("Your session has ended; sign in again.", next_url) from None


def reader(request: Request) -> WebUser:
    return WebUser(_actor(request), app_state(request))


async def checked_form(request: Request) -> AsyncIterator[FormData]:
    """The form of a POST, if its CSRF token is this session's (its uploads are closed
    once the response is sent)."""
    try:
        form = await request.form(max_part_size=MAX_PART_BYTES)
    except TypeError:  # Starlette before 0.40 takes no part size (and sets no limit)
        form = await request.form()
    try:
        sent = form.get("csrf")
        expected = session_of(request).csrf
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
            raise CsrfRejected(
                "This form has expired or did not come from this page. Go back, reload the "
                "page and try again."
            )
        yield form
    finally:
        await form.close()


def writer(
    user: Annotated[WebUser, Depends(reader)],
    form: Annotated[FormData, Depends(checked_form)],
) -> WebUser:
    """The signed-in user (checked first: no session means the sign-in page) and the form."""
    return WebUser(user.actor, user.state, form)


Reader = Annotated[WebUser, Depends(reader)]
Writer = Annotated[WebUser, Depends(writer)]
