"""The API application factory.

``create_app(settings)`` builds an app over one database; nothing is done at import time.
``create_app_from_env()`` is the factory ``uvicorn`` calls in each worker process
(``trdnav serve``), reading its settings from the environment: the server keeps no state
of its own, so any number of workers or hosts can share one PostgreSQL database.
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from trdnav import __version__
from trdnav.api import problems
from trdnav.api.bodies import refuse_nul_parameters
from trdnav.api.kept_assessments import KeptAssessments
from trdnav.api.request_ids import RequestIds
from trdnav.api.routes import admin, auth, cds, courses, fhir, items, measures, meta, patients
from trdnav.api.state import AppState
from trdnav.service import knowledge_for
from trdnav.settings import Settings, load_settings
from trdnav.store.database import Store, default_database_url
from trdnav.web import install_web

__all__ = ["create_app", "create_app_from_env", "settle"]

STATIC = Path(__file__).parent / "static"
PUBLIC_OPERATIONS = {
    ("post", "/auth/login"),
    ("get", "/health"),
    ("get", "/knowledge"),
    ("get", "/problems/{slug}"),
    ("get", "/cds-services"),
}

DESCRIPTION = """
Clinical decision support for treatment-resistant depression. **Not a medical device**: every
verdict shows its basis so that a clinician can check it.

Sign in with `POST /auth/login`, then send `Authorization: Bearer <token>`. Changes to a
patient need its current version in `If-Match` (the `ETag` of the patient); a stale version
gets 412. Errors are RFC 9457 problem details with field paths in `errors`.
"""


def create_app(settings: Settings | None = None, *, store: Store | None = None) -> FastAPI:
    settings = settings or load_settings()
    store = store or Store(
        settings.database_url or default_database_url(), background_checkpoints=True
    )
    app = FastAPI(
        dependencies=[Depends(refuse_nul_parameters)],
        title="trdnav",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.trdnav = AppState(settings=settings, store=store, kb=knowledge_for(settings))
    problems.install(app)

    # the last added runs first: every request gets its id before anything answers it
    app.add_middleware(KeptAssessments)
    app.add_middleware(RequestIds)

    # The CDS routes first: an EHR's calls come often, and each request is matched against
    # the routes in order.
    app.include_router(cds.router)
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

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemas = spec.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in cds.BODY_SCHEMAS.items():
                schemas.setdefault(name, schema)
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
    app = create_app(load_settings())
    settle(app)
    return app


GC_YOUNG_THRESHOLD = 50_000
"""Objects a server process may allocate, net of those freed, before the garbage collector
passes over the youngest (Python's default is 700). Requests make no reference cycles in
the normal course (none were found under load), so those passes found nothing to free: with
the default, a CDS call's thousands of objects, alive while it computes, started two or three
passes each and were moved to the older generations, whose full passes then took up to 23 ms
from whichever call started them. With this threshold a pass starts only when that many
objects have piled up: reference cycles, if any, are still collected."""


def settle(app: FastAPI) -> None:
    """Load what every request shares (the knowledge base is loaded already; the FHIR codes
    are loaded here), then leave the objects of a started process out of the garbage
    collector's passes. A server process keeps them until it ends, and without this each full
    pass walks the hundreds of thousands of them: a few milliseconds taken from whichever
    request happened to start it. The collector then starts its passes less often
    (:data:`GC_YOUNG_THRESHOLD`)."""
    state: AppState = app.state.trdnav
    state.codes  # noqa: B018 (loaded for its effect)
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, older, oldest)
