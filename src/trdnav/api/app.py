"""The API application factory.

``create_app(settings)`` builds an app over one database; nothing is done at import time.
``create_app_from_env()`` is the factory ``uvicorn`` calls in each worker process
(``trdnav serve``), reading its settings from the environment: the server keeps no state
of its own, so any number of workers or hosts can share one PostgreSQL database.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trdnav import __version__
from trdnav.api import problems
from trdnav.api.routes import admin, auth, cds, courses, fhir, items, measures, meta, patients
from trdnav.api.state import AppState
from trdnav.service import knowledge_for
from trdnav.settings import Settings, load_settings
from trdnav.store.database import Store, default_database_url
from trdnav.web import install_web

__all__ = ["create_app", "create_app_from_env"]

STATIC = Path(__file__).parent / "static"
PUBLIC_OPERATIONS = {
    ("post", "/auth/login"),
    ("get", "/health"),
    ("get", "/knowledge"),
    ("get", "/problems/{slug}"),
    ("get", "/cds-services"),
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

DESCRIPTION = """
Clinical decision support for treatment-resistant depression. **Not a medical device**: every
verdict shows its basis so that a clinician can check it.

Sign in with `POST /auth/login`, then send `Authorization: Bearer <token>`. Changes to a
patient need its current version in `If-Match` (the `ETag` of the patient); a stale version
gets 412. Errors are RFC 9457 problem details with field paths in `errors`.
"""


class RequestIds:
    """Gives each HTTP request an id, the client's ``X-Request-ID`` if it is well formed, as
    ``request.state.request_id``; the response carries it back, with ``Cache-Control:
    no-store`` unless the route set its own. A plain ASGI middleware: the request and response
    pass through untouched otherwise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
        text = given.decode("latin-1")
        request_id = text if _REQUEST_ID.match(text) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    settings = settings or load_settings()
    store = store or Store(settings.database_url or default_database_url())
    app = FastAPI(
        title="trdnav",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.trdnav = AppState(settings=settings, store=store, kb=knowledge_for(settings))
    problems.install(app)

    app.add_middleware(RequestIds)

    for router in (
        auth.router,
        courses.router,
        patients.router,
        items.router,
        admin.router,
        meta.router,
    ):
        app.include_router(router)
    app.include_router(fhir.router)
    app.include_router(measures.router)
    app.include_router(cds.router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            app.openapi_schema = problems.document_problems(spec, PUBLIC_OPERATIONS)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="trdnav API",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/swagger-ui/favicon.png",
        )

    install_web(app)
    return app


def create_app_from_env() -> FastAPI:
    """The factory of ``trdnav serve`` worker processes."""
    return create_app(load_settings())
