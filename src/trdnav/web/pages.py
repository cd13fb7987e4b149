"""Rendering pages: the template environment, the session cookie on the way out, headers.

Templates are Jinja2 with autoescaping on for every template, so any value shown is
escaped; the only markup inserted unescaped is the SVG the chart modules build (which
escape every text themselves). Every HTML response carries a strict Content-Security-Policy:
scripts, styles and images only from this server.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from trdnav import __version__
from trdnav.clinic.actor import Actor
from trdnav.core.history import MRN_LENGTH, NAME_LENGTH, SEX_LENGTH
from trdnav.store.tables import EMAIL_LENGTH, USER_NAME_LENGTH
from trdnav.web.forms import field_id
from trdnav.web.session import COOKIE, SessionData, SessionSigner

if TYPE_CHECKING:
    from trdnav.api.state import AppState

__all__ = [
    "DISCLAIMER",
    "STATIC",
    "WebState",
    "app_state",
    "finish",
    "redirect",
    "render",
    "render_text",
    "session_of",
    "set_session",
    "web_state",
]

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"

DISCLAIMER = (
    "trdnav supports clinical decisions; it does not make them. It is not a medical device "
    "and has not been cleared or approved by any regulator. Check every verdict against its "
    "basis and sources."
)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}

VERDICTS = {
    "eligible": "Eligible",
    "caution": "Caution",
    "contraindicated": "Contraindicated",
    "not_yet": "Not yet",
    "trial_only": "Trial only",
}
REGULATORY = {
    "fda_approved": "FDA approved",
    "fda_cleared": "FDA cleared",
    "off_label": "off-label",
    "investigational": "investigational",
    "standard_care": "standard care",
}
SETTINGS = {
    "office": "office",
    "monitored_clinic": "monitored clinic",
    "anaesthesia": "under anaesthesia",
    "surgery": "surgery",
}
ROMAN = ("0", "I", "II", "III", "IV", "V")


def _words(value: object) -> str:
    return str(value).replace("_", " ")


def _static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    version = _static_version()
    env.globals.update(
        static=lambda path: f"/app/static/{path}?v={version}",
        disclaimer=DISCLAIMER,
        app_version=__version__,
        verdicts=VERDICTS,
        # the longest text each field keeps: the browser stops typing there
        limits={
            "name": NAME_LENGTH,
            "mrn": MRN_LENGTH,
            "sex": SEX_LENGTH,
            "email": EMAIL_LENGTH,
            "user_name": USER_NAME_LENGTH,
        },
    )
    env.filters.update(
        urlquote=lambda value: quote(str(value), safe=""),
        field_id=field_id,
        words=_words,
        verdict=lambda value: VERDICTS.get(str(value), _words(value)),
        regulatory=lambda value: REGULATORY.get(str(value), _words(value)),
        setting=lambda value: SETTINGS.get(str(value), _words(value)),
        roman=lambda value: ROMAN[value] if isinstance(value, int) and 0 <= value < 6 else value,
        number=lambda value: f"{value:g}" if isinstance(value, float) else str(value),
    )
    return env


@dataclass
class WebState:
    """What the web pages share: the template environment and the cookie signer."""

    env: Environment = field(default_factory=build_environment)
    _signer: SessionSigner | None = None

    def signer(self, state: AppState) -> SessionSigner:
        if self._signer is None:
            self._signer = SessionSigner(state.token_key())
        return self._signer


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.trdnav
    return state


def web_state(request: Request) -> WebState:
    web: WebState = request.app.state.trdnav_web
    return web


def session_of(request: Request) -> SessionData:
    """This request's session (read from the cookie once; a new one if there is none)."""
    cached = getattr(request.state, "web_session", None)
    if isinstance(cached, SessionData):
        return cached
    signer = web_state(request).signer(app_state(request))
    found = signer.loads(request.cookies.get(COOKIE))
    session = found or SessionData()
    request.state.web_session = session
    request.state.web_session_dirty = found is None
    return session


def set_session(request: Request, session: SessionData) -> None:
    request.state.web_session = session
    request.state.web_session_dirty = True


def _finish(request: Request, response: Response) -> Response:
    for key, value in SECURITY_HEADERS.items():
        response.headers.setdefault(key, value)
    if getattr(request.state, "web_session_dirty", False):
        session = session_of(request)
        signer = web_state(request).signer(app_state(request))
        response.set_cookie(
            COOKIE,
            signer.dumps(session),
            max_age=app_state(request).settings.token_minutes * 60,
            path="/app",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    return response


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    actor: Actor | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page: the template with the session's CSRF token, the user and any flash message."""
    session = session_of(request)
    flash = session.flash
    if flash:
        set_session(request, session.with_flash(None))
    values = {
        "request": request,
        "csrf": session.csrf,
        "user": actor,
        "flash": flash,
        "path": request.url.path,
        **(context or {}),
    }
    html = web_state(request).env.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status, headers=headers)
    _finish(request, response)
    return response


def render_text(request: Request, template: str, context: dict[str, Any]) -> str:
    """A template rendered to text (reports for PDF)."""
    return web_state(request).env.get_template(template).render(context)


def redirect(request: Request, url: str, flash: str | None = None) -> Response:
    """303 See Other (after a POST, or to sign in), with an optional message for the next page."""
    if flash:
        set_session(request, session_of(request).with_flash(flash))
    response = RedirectResponse(url, status_code=303)
    return _finish(request, response)


def finish(request: Request, response: Response) -> Response:
    """Headers and the session cookie on a response built elsewhere (a download)."""
    return _finish(request, response)
