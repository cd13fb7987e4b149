"""Request bodies read up to a size limit: a larger body is refused as soon as it passes the
limit, never buffered beyond it."""

from __future__ import annotations

from starlette.requests import Request

from trdnav.errors import InputError, Problem

__all__ = ["read_limited"]


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
