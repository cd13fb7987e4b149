"""A server process settled for serving (``settle``, as ``trdnav serve`` workers are)."""

import asyncio
import gc
import json
import re

import httpx

from trdnav.api.app import GC_YOUNG_THRESHOLD, create_app, settle
from trdnav.settings import Settings


def test_a_settled_process_freezes_what_it_has_loaded_and_collects_less_often(tmp_path):
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'trdnav.db'}"))
    before = gc.get_threshold()
    try:
        settle(app)
        assert gc.get_freeze_count() > 100_000  # the knowledge base and the FHIR codes
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
        # a reference cycle is still collected once enough objects have piled up
        collected: list[int] = []

        def count(phase, info):
            if phase == "stop":
                collected.append(info["collected"])

        gc.callbacks.append(count)
        try:
            for _ in range(2 * GC_YOUNG_THRESHOLD):
                cycle: list[object] = []
                cycle.append(cycle)
        finally:
            gc.callbacks.remove(count)
        assert sum(collected) > 0
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def test_an_unexpected_error_is_a_problem_with_the_request_id_and_no_caching(tmp_path):
    """The 500 is answered outside the middleware that gives every response its request id
    and no-store: it had neither header, though its body named the id."""
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'trdnav.db'}"))

    def broken() -> None:
        raise RuntimeError("a defect")

    app.add_api_route("/broken", broken)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://trdnav") as client:
            return await client.get("/broken", headers={"X-Request-ID": "my-req-1"})

    response = asyncio.run(call())
    assert response.status_code == 500
    assert response.json()["type"] == "/problems/internal-error"
    assert response.json()["request_id"] == "my-req-1"
    assert response.headers["X-Request-ID"] == "my-req-1"
    assert response.headers["Cache-Control"] == "no-store"
    assert "a defect" not in response.text


def test_every_schema_the_openapi_document_refers_to_is_in_it(tmp_path):
    """The CDS Hooks bodies referred to FhirAuthorization and FeedbackItem, which the
    document did not define."""
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'trdnav.db'}"))
    spec = app.openapi()
    referred = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(spec)))
    assert referred
    assert referred <= set(spec["components"]["schemas"])
