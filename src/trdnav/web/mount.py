"""Mount the web app on the API's application: pages under ``/app``, assets under
``/app/static``, error pages for ``/app`` requests, and ``/`` sending browsers to ``/app``.

No route of the web app is in the OpenAPI document.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from trdnav.web.errors import install_error_pages
from trdnav.web.pages import STATIC, WebState
from trdnav.web.routes import (
    admin,
    auth,
    courses,
    demographics,
    imports,
    items,
    measures,
    patients,
    reports,
)

__all__ = ["ROUTERS", "install_web"]

ROUTERS = (
    auth.router,
    patients.router,
    demographics.router,
    items.router,
    courses.router,
    imports.router,
    measures.router,
    reports.router,
    admin.router,
)


class Assets(StaticFiles):
    """Static files that browsers may cache for a day (their URLs carry a content hash)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=86400"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def install_web(app: FastAPI) -> None:
    app.state.trdnav_web = WebState()
    for router in ROUTERS:
        app.include_router(router)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/app", status_code=307)

    app.mount("/app/static", Assets(directory=STATIC), name="web-static")
    install_error_pages(app)
