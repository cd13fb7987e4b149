"""Errors as RFC 9457 problem details (``application/problem+json``), one handler for all.

Field problems travel in ``errors``: ``[{"path", "value", "expected"}]``, with paths in the
same form as the command line reports them (``medication_trials[0].drug``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from trdnav import json_text
from trdnav.core.intake import problems_from_errors
from trdnav.errors import (
    InputError,
    NotAuthenticated,
    Problem,
    TooManyRequests,
    TrdnavError,
    UnknownName,
    printable,
)

__all__ = [
    "OTHER_TYPES",
    "PROBLEM_TYPES",
    "ProblemDetails",
    "document_problems",
    "install",
    "problem_response",
]

log = logging.getLogger("trdnav.api")

PROBLEM_TYPES = {
    400: "bad-request",
    401: "not-authenticated",
    403: "not-permitted",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    412: "stale-version",
    422: "invalid-input",
    428: "version-required",
    429: "too-many-requests",
    500: "internal-error",
}
OTHER_TYPES = {"data-unavailable": 412}
"""Problem types of errors that share an HTTP status with another type."""


class FieldProblem(BaseModel):
    path: str
    value: Any = Field(
        default=None,
        description="the value found (shortened when long; a number JSON cannot hold, such as "
        "NaN, as a string); null for a missing field",
    )
    expected: str
    missing: bool = Field(default=False, description="present (true) when the field is missing")


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, with field problems in ``errors``."""

    type: str
    title: str
    status: int
    detail: str
    instance: str
    errors: list[FieldProblem] | None = None
    request_id: str | None = None


ERROR_STATUSES = {
    401: "Not signed in, or the token is not valid",
    403: "The role may not do this",
    404: "No such record in this clinic",
    405: "Method not allowed",
    409: "The record exists already",
    412: "The patient has changed since the version in If-Match; for a CDS Hooks call, the "
    "FHIR data it needs could not be had",
    422: "Invalid input; `errors` lists every problem with its field path",
    428: "A change without If-Match",
    429: "Too many failed logins; see Retry-After",
    500: "Internal error",
}
PUBLIC_STATUSES = {401, 404, 405, 422, 429, 500}


def document_problems(spec: dict[str, Any], public: set[tuple[str, str]]) -> dict[str, Any]:
    """Declare the error responses of every operation as problem details."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(
        ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}").pop(
            "$defs", {}
        )
    )
    problem_schema = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    problem_schema.pop("$defs", None)
    schemas["ProblemDetails"] = problem_schema
    content = {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
    }
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            statuses = PUBLIC_STATUSES if (method, path) in public else set(ERROR_STATUSES)
            responses = operation.setdefault("responses", {})
            for status in statuses:
                responses[str(status)] = {"description": ERROR_STATUSES[status], "content": content}
            operation["responses"] = dict(sorted(responses.items()))
    return spec


_MAX_TEXT = 200
_MAX_ITEMS = 50
_MAX_DEPTH = 8
_REDACTED = "(hidden)"


def _text(text: str) -> str:
    text = printable(text)
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def safe_value(value: Any, depth: int = 0) -> Any:
    """A value as a problem may show it: always JSON (no NaN, bytes or unpaired surrogate),
    and short (long strings and lists cut, deep nesting elided)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):  # Python writes no integer of more than 4300 digits
        return value if value.bit_length() <= 10_000 else "an integer of thousands of digits"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return value if math.isfinite(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bytes | bytearray):
        return _text(bytes(value).decode("utf-8", "replace"))
    if depth >= _MAX_DEPTH:
        return "..."
    if isinstance(value, Mapping):
        items = list(value.items())
        shown = {_text(str(k)): safe_value(v, depth + 1) for k, v in items[:_MAX_ITEMS]}
        if len(items) > _MAX_ITEMS:
            shown["..."] = f"{len(items) - _MAX_ITEMS} more"
        return shown
    if isinstance(value, list | tuple):
        listed = [safe_value(v, depth + 1) for v in value[:_MAX_ITEMS]]
        return [*listed, "..."] if len(value) > _MAX_ITEMS else listed
    return _text(str(value))


def _field(problem: Problem) -> dict[str, Any]:
    shown = problem.to_dict()
    shown["path"] = printable(shown["path"])
    shown["expected"] = printable(shown["expected"])
    shown["value"] = safe_value(shown["value"])
    return shown


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[Problem] | None = None,
    headers: dict[str, str] | None = None,
    kind: str | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{kind or PROBLEM_TYPES.get(status, 'error')}",
        "title": title,
        "status": status,
        "detail": printable(detail),
        "instance": printable(request.url.path),
    }
    if errors:
        body["errors"] = [_field(p) for p in errors]
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return JSONResponse(
        body, status_code=status, headers=headers, media_type="application/problem+json"
    )


async def _trdnav_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TrdnavError)
    headers: dict[str, str] = {}
    if isinstance(exc, TooManyRequests):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    errors = list(exc.problems) if isinstance(exc, InputError) else None
    if errors and not isinstance(exc, UnknownName):
        detail = f"{len(errors)} problem(s) in the request; nothing was changed"
    else:  # an unknown name is not found: say which it is, and which names there are
        detail = str(exc)
    return problem_response(
        request,
        exc.http_status,
        exc.title,
        detail,
        errors=errors,
        headers=headers or None,
        kind=exc.problem_type,
    )


def _secret(problem: Problem) -> Problem:
    """A problem with a password field's value hidden (the response may be logged or shown)."""
    if problem.value is None or not problem.path.rsplit(".", 1)[-1].endswith("password"):
        return problem
    return Problem(problem.path, _REDACTED, problem.expected, missing=problem.missing)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for err in exc.errors():
        if err["type"] == "json_invalid":  # its loc is a character offset, its input {}
            problems = [_not_json(err, exc.body)]
            break
        if err["loc"][:1] == ("body",) and isinstance(err.get("input"), bytes | bytearray):
            # not JSON, so FastAPI did not parse it: say what the body should be
            content_type = request.headers.get("content-type")
            problems = [
                Problem(
                    "content-type",
                    content_type,
                    "application/json, with a JSON object as the body",
                    missing=content_type is None,
                )
            ]
            break
        errors.append(
            {**err, "loc": tuple(err["loc"][1:]) if err["loc"][:1] == ("body",) else err["loc"]}
        )
    else:
        problems = [_secret(p) for p in problems_from_errors(errors)]
    return problem_response(
        request,
        422,
        "Invalid input",
        f"{len(problems)} problem(s) in the request; nothing was changed",
        errors=problems,
    )


def _not_json(err: Mapping[str, Any], doc: Any) -> Problem:
    """A body that is not JSON, with the parser's reason and where it stopped."""
    reason = (err.get("ctx") or {}).get("error", "not JSON")
    pos = err["loc"][-1]
    if isinstance(doc, str) and isinstance(pos, int):
        line = doc.count("\n", 0, pos) + 1
        column = pos - doc.rfind("\n", 0, pos)
        reason = f"{reason}: line {line} column {column}"
    return Problem("(body)", reason, "a JSON document")


_UNPARSED = "There was an error parsing the body"
"""FastAPI's 400 for a body its JSON parser raised on with something else than a syntax
error: text that is not UTF-8, an integer of more than 4,300 digits, nesting deeper than the
parser goes."""


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and exc.detail == _UNPARSED:
        expected = (
            "a JSON document in UTF-8 (integers of at most 4,300 digits, nested at most "
            f"{json_text.MAX_DEPTH} levels)"
        )
        return problem_response(
            request,
            422,
            "Invalid input",
            "1 problem(s) in the request; nothing was changed",
            errors=[Problem("(body)", None, expected)],
        )
    title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": _allowed(request)}
    return problem_response(request, exc.status_code, title, str(exc.detail), headers=headers)


def _allowed(request: Request) -> str:
    """Every method the path answers: the router names only the first route's, where two
    routes share a path (``GET`` and ``POST /patients``)."""
    methods: set[str] = set()
    routes = list(request.app.router.routes)
    while routes:
        route = routes.pop()
        included = getattr(route, "original_router", None)  # an included router's routes
        if included is not None:
            routes.extend(included.routes)
        elif isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return ", ".join(sorted(methods))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unexpected %s on %s %s (request %s)",
        type(exc).__name__,
        request.method,
        request.url.path,
        getattr(request.state, "request_id", "-"),
        exc_info=exc,
    )
    # answered outside the middleware that adds these to every other response
    request_id = getattr(request.state, "request_id", None)
    headers = {"Cache-Control": "no-store"} | ({"X-Request-ID": request_id} if request_id else {})
    return problem_response(
        request,
        500,
        "Internal error",
        "the server could not complete the request; it has been logged",
        headers=headers,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(TrdnavError, _trdnav_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
