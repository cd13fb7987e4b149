"""Error pages for the web app, next to the API's problem details.

The app has one handler per kind of error; ``install_error_pages`` wraps each so that a
request under ``/app`` gets a page and any other request keeps its problem details. A page
names what went wrong in words and never shows a traceback: an unexpected error is logged
with its request id, and the page shows only that id.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from trdnav.clinic import accounts
from trdnav.clinic.actor import Actor
from trdnav.errors import InputError, NotAuthenticated, TooManyRequests, TrdnavError
from trdnav.web.deps import CsrfRejected, SignInRequired, login_url
from trdnav.web.pages import app_state, redirect, render, session_of, set_session
from trdnav.web.session import SessionData

__all__ = ["install_error_pages", "is_web"]

log = logging.getLogger("trdnav.web")
Handler = Callable[[Request, Exception], Awaitable[Response]]
AnyHandler = Callable[[Request, Any], Response | Awaitable[Response]]

TITLES = {
    400: "Bad request",
    403: "Not permitted",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    412: "Changed by someone else",
    422: "Invalid input",
    428: "Version missing",
    429: "Too many attempts",
    500: "Something went wrong",
}
HINTS = {
    403: "Your role does not allow this. Ask an administrator if you need it.",
    404: "There is no such page or record in your clinic.",
    412: "This patient was changed by someone else since you opened the page. Reload the "
    "patient to see the changes, then apply yours again.",
}


def is_web(request: Request) -> bool:
    path = request.url.path
    return path == "/app" or path.startswith("/app/")


def _signed_in(request: Request) -> Actor | None:
    """The signed-in user, if any, so an error page keeps the navigation."""
    token = session_of(request).token
    if not token:
        return None
    state = app_state(request)
    try:
        return accounts.resolve_token(state.store, state.token_key(), token, None, None)
    except TrdnavError:
        return None


def _page(
    request: Request,
    status: int,
    message: str,
    problems: list[str] | None = None,
    actor: Actor | None = None,
    *,
    hinted: bool = True,
) -> Response:
    return render(
        request,
        "error.html",
        {
            "status": status,
            "title": TITLES.get(status, "Error"),
            "message": message,
            "hint": HINTS.get(status) if hinted else None,
            "problems": problems or [],
            "request_id": getattr(request.state, "request_id", None),
        },
        status=status,
        actor=actor,
    )


async def _trdnav_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TrdnavError)
    if isinstance(exc, NotAuthenticated):
        next_url = exc.next_url if isinstance(exc, SignInRequired) else None
        set_session(request, SessionData(flash=str(exc)))
        return redirect(request, login_url(next_url))
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
    problems = [str(p) for p in exc.problems] if isinstance(exc, InputError) else None
    actor = await run_in_threadpool(_signed_in, request)
    message = str(exc) if not problems else ""
    # an expired form is not a matter of the role: its message says what to do
    hinted = not isinstance(exc, CsrfRejected)
    response = _page(request, exc.http_status, message, problems, actor, hinted=hinted)
    if headers:
        response.headers.update(headers)
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    actor = await run_in_threadpool(_signed_in, request)
    return _page(request, exc.status_code, str(exc.detail), actor=actor)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in err['loc'])}: got {_shown(err.get('input'))}; {err['msg']}"
        for err in exc.errors()
    ]
    return _page(request, 422, "The address or the form is not valid.", problems)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error(
        "unexpected %s on %s %s (request %s)",
        type(exc).__name__,
        request.method,
        request.url.path,
        getattr(request.state, "request_id", "-"),
        exc_info=exc,
    )
    try:
        session_of(request)
        return _page(request, 500, "The server could not complete the request; it has been logged.")
    except Exception:  # the page itself failed: plain text, still no traceback
        return Response("Internal error", status_code=500, media_type="text/plain")


def _dispatch(api: AnyHandler, web: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if is_web(request):
            return await web(request, exc)
        result = api(request, exc)
        return await result if inspect.isawaitable(result) else result

    return handle


def install_error_pages(app: FastAPI) -> None:
    """Route errors of ``/app`` requests to pages; the API's handlers keep the rest."""
    for kind, web in (
        (TrdnavError, _trdnav_error),
        (StarletteHTTPException, _http_error),
        (RequestValidationError, _validation_error),
        (Exception, _unexpected),
    ):
        api = app.exception_handlers[kind]
        app.add_exception_handler(kind, _dispatch(api, web))
