"""Request bodies read up to a size limit: a larger body is refused as soon as it passes the
limit, never buffered beyond it; text fields and parameters without NUL characters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator
from starlette.requests import Request

from trdnav.errors import InputError, Problem
from trdnav.store.database import NUL_EXPECTED

__all__ = ["Instant", "Text", "read_limited", "refuse_nul_parameters"]


def _without_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError(NUL_EXPECTED)
    return value


Text = Annotated[str, AfterValidator(_without_nul)]
"""A text field of a request body: a NUL character is never text anyone meant (and
PostgreSQL cannot store one)."""


def _instant(value: datetime) -> datetime:
    """A moment: a date-time with its offset, in UTC (where the database keeps times)."""
    if value.tzinfo is None:
        raise ValueError("expected a date-time with its offset, such as 2026-01-05T09:00:00Z")
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("expected a date-time from year 1 to 9999 in UTC") from None


Instant = Annotated[datetime, AfterValidator(_instant)]
"""A query's moment (``since``, ``until``): without an offset it could mean any of a day's
hours, and the stored times it is compared with are UTC."""


async def refuse_nul_parameters(request: Request) -> None:
    """Refuse path and query parameters holding a NUL character, naming each (async: it
    runs on the event loop, before the route's other dependencies)."""
    found = [
        Problem(name, value, NUL_EXPECTED)
        for name, value in [*request.path_params.items(), *request.query_params.multi_items()]
        if "\x00" in str(value)
    ]
    if found:
        raise InputError(found)


async def read_limited(request: Request, max_mb: int, what: str) -> bytes:
    """The body, or ``InputError`` once it passes ``max_mb`` megabytes (``what`` names the
    document expected, for the error)."""
    limit = max_mb * 1024 * 1024
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(max_mb, what)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(max_mb, what)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(max_mb: int, what: str) -> InputError:
    return InputError([Problem("(body)", f"more than {max_mb} MB", what)])
