"""Sign in and sign out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from trdnav.clinic import accounts
from trdnav.errors import InputError, NotAuthenticated, TooManyRequests
from trdnav.remote import client_address
from trdnav.web.deps import Writer, checked_form
from trdnav.web.pages import app_state, redirect, render, session_of, set_session
from trdnav.web.session import SessionData

router = APIRouter(prefix="/app", include_in_schema=False)


def _safe_next(value: str) -> str:
    """Only a page of this app (no scheme, no host, no protocol-relative URL)."""
    if value.startswith("/app/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/app/patients"


@router.get("/login")
def login_page(request: Request, next: str = "") -> Response:
    if session_of(request).token:
        return redirect(request, _safe_next(next))
    return render(request, "login.html", {"next": next, "email": "", "error": None})


@router.post("/login")
def login(request: Request, form: Annotated[FormData, Depends(checked_form)]) -> Response:
    email = str(form.get("email") or "").strip()
    password = str(form.get("password") or "")
    next_url = str(form.get("next") or "")
    state = app_state(request)
    remote = client_address(request)
    try:
        result = accounts.authenticate(state.store, state.settings, email, password, remote)
    except TooManyRequests as exc:
        minutes = max(1, exc.retry_after // 60)
        return render(
            request,
            "login.html",
            {
                "next": next_url,
                "email": email,
                "error": f"Too many failed sign-ins. Try again in {minutes} minutes.",
            },
            status=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except NotAuthenticated:
        return render(
            request,
            "login.html",
            {"next": next_url, "email": email, "error": "E-mail or password not recognised."},
            status=401,
        )
    except InputError as exc:  # an address longer than any user's
        error = "E-mail: " + "; ".join(p.expected for p in exc.problems) + "."
        return render(
            request,
            "login.html",
            {"next": next_url, "email": email, "error": error},
            status=422,
        )
    set_session(request, SessionData(token=result.token))
    return redirect(request, _safe_next(next_url))


@router.post("/logout")
def logout(request: Request, user: Writer) -> Response:
    # the token is ended on the server too: a copy of the cookie no longer signs in
    token = session_of(request).token
    if token:
        state = user.state
        accounts.revoke_token(state.store, state.token_key(), token)
    set_session(request, SessionData(flash="You have signed out."))
    return redirect(request, "/app/login")
