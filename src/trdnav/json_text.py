"""JSON text parsed with a limit on nesting, for every document trdnav reads.

A patient history nests 4 levels and a FHIR Bundle rarely 20; data nested thousands of
levels deep parses (or overflows Python's recursion in the parser) and then overflows
whatever walks it next. :func:`loads` refuses it first, as :class:`TooDeep`.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "TooDeep", "loads", "too_deep"]

MAX_DEPTH = 64
"""How deeply arrays and objects may nest."""


class TooDeep(ValueError):
    """JSON nested more than :data:`MAX_DEPTH` levels."""

    def __init__(self) -> None:
        super().__init__(f"JSON nested more than {MAX_DEPTH} levels")


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels (found without recursing)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in item)
    return False


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
