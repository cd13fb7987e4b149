"""CDS Hooks 2.0: discovery, the services, feedback; and the feedback report (administrators).

The services authenticate CDS clients with the client's signed JWT (:mod:`trdnav.cds.auth`),
not with user tokens; discovery is public (it holds no patient data).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Annotated, Any, Literal

import anyio
import anyio.to_thread
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response as StarletteResponse

from trdnav.api.bodies import Instant, read_limited
from trdnav.api.deps import ActorDep, StateDep
from trdnav.api.state import AppState
from trdnav.cds import feedback as cds_feedback
from trdnav.cds.auth import CdsCaller, authenticate, keys_at_hand
from trdnav.cds.discovery import SERVICES, discovery
from trdnav.cds.models import CdsRequest, FeedbackRequest
from trdnav.cds.models import Response as CardsResponse
from trdnav.cds.service import CallContext, Deferred, resume, serve
from trdnav.clinic.actor import Actor
from trdnav.core.intake import problems_from_validation_error
from trdnav.errors import InputError, NotFound
from trdnav.remote import client_address


class TimedRoute(APIRoute):
    """Reports the server's time for the whole call (authentication, reading the body, the
    work) in a ``Server-Timing`` header (``app``), for the benchmark and for operators; and,
    when the request says when it reached the server (``X-Request-Start: t=<Unix time>``, as
    a proxy such as nginx sets it), the time it waited before its handler started
    (``queue``): behind the calls this process answered first, for one."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, StarletteResponse]]:
        handler = super().get_route_handler()

        async def timed(request: Request) -> StarletteResponse:
            arrived = request_start(request.headers.get("X-Request-Start"))
            now = time.time()
            start = time.perf_counter()
            response = await handler(request)
            elapsed = (time.perf_counter() - start) * 1000
            timing = f"app;dur={elapsed:.2f}"
            if arrived is not None and 0 <= now - arrived < 3600:
                timing = f"queue;dur={(now - arrived) * 1000:.2f}, {timing}"
            response.headers["Server-Timing"] = timing
            return response

        return timed


def request_start(header: str | None) -> float | None:
    """The Unix time of an ``X-Request-Start`` header: ``t=`` (optional) and a number of
    seconds, milliseconds or microseconds (told apart by size, as proxies send all three);
    None when there is none or it is not a number."""
    if not header:
        return None
    text = header.strip().removeprefix("t=")
    try:
        value = float(text)
    except ValueError:
        return None
    if value > 1e14:
        return value / 1e6
    if value > 1e11:
        return value / 1e3
    return value


router = APIRouter(tags=["CDS Hooks"], route_class=TimedRoute)

ON_LOOP_MAX_BYTES = 1 << 20
"""The largest call body answered on the event loop (a typical prefetch is some 50 KB)."""
CALLS_AT_ONCE = 2
"""Worker threads that CDS calls answered in a thread (larger than ``ON_LOOP_MAX_BYTES``, or
whose client's keys must be fetched) may take at once in each process: with the interpreter's
lock, more of them only take turns (a thread holding the database's write lock among them then
waits its turn too), so the calls past these wait here instead."""

CLOSE_AFTER_CALL = {"Connection": "close"}
"""The headers of a call's answer: the connection is closed after it, so that the client's
next call is a new connection, taken by whichever server process is free first, rather than
one queued behind the calls of the process that holds the connection (with several worker
processes, a kept connection stays with one of them however busy it is; calls compute for
milliseconds, so queueing there, not the new connection, is what costs). Gunicorn's
synchronous workers close their connections for the same reason. Behind a proxy that keeps
its connections to the client open, the client keeps its connection (see docs/performance.md)."""


def _audiences(request: Request, state: StateDep) -> list[str]:
    """The URLs a call's JWT may name as its audience: the service's path under
    ``public_url`` when that is set; else the URL called. With ``public_url`` set the call's
    own Host header does not count: a service that an EHR also calls could otherwise replay
    the EHR's token for it here, naming its own host."""
    public = state.settings.public_url
    if public:
        return [public.rstrip("/") + request.url.path]
    return [str(request.url).split("?", 1)[0]]


def cds_caller(request: Request, state: StateDep) -> CdsCaller:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return authenticate(
        token.strip() if scheme.lower() == "bearer" else None,
        _audiences(request, state),
        state.settings,
        state.store,
        state.cds_keys,
    )


CallerDep = Annotated[CdsCaller, Depends(cds_caller)]


def _actor(request: Request, caller: CdsCaller) -> Actor:
    return Actor(
        clinic_id=caller.clinic_id,
        role="cds",
        email=f"cds:{caller.iss}"[:254],
        remote_addr=client_address(request),
        request_id=getattr(request.state, "request_id", None),
    )


BODY_SCHEMAS: dict[str, Any] = {}
"""The schemas the request bodies below refer to (their ``$defs``): the application adds them
to the OpenAPI document's components, where the references point."""


def _body(model: type[Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    BODY_SCHEMAS.update(schema.pop("$defs", {}))
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.get("/cds-services", summary="CDS Hooks discovery: the services and their prefetch")
def services(state: StateDep) -> dict[str, Any]:
    return discovery(state.codes)


@router.post(
    "/cds-services/{service_id}",
    response_model=CardsResponse,
    response_model_exclude_none=True,
    response_class=JSONResponse,
    openapi_extra=_body(CdsRequest),
    summary="Call a CDS service (patient-view, order-select, order-sign): cards",
)
async def call(service_id: str, request: Request) -> JSONResponse:
    # A call is answered in one piece of work: the token verified, the body parsed, the
    # work, the cards, the jti and the audit record stored. Only the body is read first, up
    # to the size limit of setting fhir_max_bundle_mb.
    #
    # A call that needs nothing from the network (its client's keys at hand) and is at most
    # ON_LOOP_MAX_BYTES is answered right here, on the event loop, as a synchronous worker
    # would: the calls of this process are answered one at a time, and its other requests
    # wait for them (for their database work too: a write lock held by another process
    # keeps this one waiting, up to SQLite's busy timeout). In a worker thread the call would
    # share the interpreter's lock with the loop: each time one of them gives it up (the
    # loop waiting for requests, the database driver around each SQLite call) the other may
    # keep it for up to the switch interval (5 ms), and under load calls waited far longer
    # than they computed (see docs/performance.md). A larger call, or one whose client's
    # keys must be fetched, runs in a worker thread (at most CALLS_AT_ONCE at once), so that
    # this process keeps answering other requests meanwhile; so does a call whose data must
    # be fetched from the client's FHIR server, apart from those.
    state: AppState = request.app.state.trdnav
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    token = given.strip() if scheme.lower() == "bearer" else None
    max_mb = state.settings.fhir_max_bundle_mb
    raw = await read_limited(
        request, max_mb, f"a CDS Hooks request of at most {max_mb} MB (setting fhir_max_bundle_mb)"
    )
    answer: dict[str, Any] | Deferred
    if len(raw) <= ON_LOOP_MAX_BYTES and keys_at_hand(token, state.settings, state.cds_keys):
        answer = _serve(request, token, service_id, raw)
    else:
        answer = await anyio.to_thread.run_sync(
            _serve, request, token, service_id, raw, limiter=_limiter(request)
        )
    if isinstance(answer, Deferred):
        answer = await run_in_threadpool(_resume, request, service_id, answer)
    # The cards are JSON of the Response model already: sent as they are.
    return JSONResponse(answer, headers=CLOSE_AFTER_CALL)


def _limiter(request: Request) -> anyio.CapacityLimiter:
    """The limiter of the calls that only compute, made with the app's event loop."""
    limiter: anyio.CapacityLimiter | None = getattr(request.app.state, "cds_limiter", None)
    if limiter is None:
        limiter = anyio.CapacityLimiter(CALLS_AT_ONCE)
        request.app.state.cds_limiter = limiter
    return limiter


def _context(request: Request) -> tuple[AppState, CallContext]:
    state: AppState = request.app.state.trdnav
    return state, CallContext(
        state.settings,
        state.store,
        state.kb,
        state.codes,
        state.today(),
        str(request.base_url),
        state.cds_decisions,
    )


def _serve(
    request: Request, token: str | None, service_id: str, raw: bytes
) -> dict[str, Any] | Deferred:
    state, context = _context(request)
    return serve(
        context,
        state.cds_keys,
        token,
        _audiences(request, state),
        partial(_actor, request),
        service_id,
        raw,
        fetch=False,
    )


def _resume(request: Request, service_id: str, deferred: Deferred) -> dict[str, Any]:
    state, context = _context(request)
    return resume(context, state.cds_keys, partial(_actor, request), service_id, deferred)


@router.post(
    "/cds-services/{service_id}/feedback",
    openapi_extra=_body(FeedbackRequest),
    summary="Feedback on cards of a service: accepted suggestions or an override",
)
def feedback(
    service_id: str,
    request: Request,
    caller: CallerDep,
    state: StateDep,
    body: Annotated[dict[str, Any], Body()],
) -> dict[str, Any]:
    if service_id not in SERVICES:
        raise NotFound(f"no CDS service {service_id!r}; see GET /cds-services")
    try:
        parsed = FeedbackRequest.model_validate(body)
    except ValidationError as exc:
        raise InputError(problems_from_validation_error(exc)) from None
    stored = cds_feedback.store_feedback(
        state.store, caller, _actor(request, caller), service_id, parsed
    )
    return {"stored": stored}


@router.get("/cds/feedback", summary="Feedback on the clinic's CDS cards (administrators)")
def feedback_report(
    actor: ActorDep,
    state: StateDep,
    service: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Literal["accepted", "overridden"] | None = None,
    since: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[dict[str, Any]]:
    return cds_feedback.feedback_report(
        state.store,
        actor,
        cds_feedback.FeedbackQuery(service, outcome, since, limit, offset),
    )
