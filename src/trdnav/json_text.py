"""JSON text parsed with a limit on nesting, for every document trdnav reads.

Data nested thousands of levels deep parses (or overflows Python's recursion in the parser)
and then overflows whatever walks it next: :func:`loads` refuses it first, as
:class:`TooDeep`, beyond :data:`~trdnav.core.nesting.MAX_DEPTH`.
"""

from __future__ import annotations

import json
from typing import Any

from trdnav.core.nesting import MAX_DEPTH, too_deep

__all__ = ["MAX_DEPTH", "TooDeep", "loads", "too_deep"]


class TooDeep(ValueError):
    """JSON nested more than :data:`MAX_DEPTH` levels."""

    def __init__(self) -> None:
        super().__init__(f"JSON nested more than {MAX_DEPTH} levels")


def loads(text: str | bytes) -> Any:
    """:func:`json.loads`; raises :class:`TooDeep` for data nested too deeply, and
    :class:`json.JSONDecodeError` (and, for bytes, :class:`UnicodeDecodeError`) as it does."""
    try:
        value = json.loads(text)
    except RecursionError:  # deeper than the parser goes
        raise TooDeep() from None
    if too_deep(value):
        raise TooDeep()
    return value
