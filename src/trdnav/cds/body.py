"""A CDS call's JSON body: read by the route after the caller is authenticated, parsed once."""

from __future__ import annotations

import json
from typing import Any

from trdnav.errors import InputError, Problem

__all__ = ["read_body"]


def read_body(raw: bytes) -> Any:
    """The parsed body (UTF-8, -16 or -32); a body that is not JSON is an :class:`InputError`."""
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InputError([Problem("(body)", None, f"a JSON object ({exc})")]) from None
