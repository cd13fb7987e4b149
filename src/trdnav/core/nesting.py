"""How deeply a document's arrays and objects may nest.

A patient history nests 4 levels and a FHIR Bundle rarely 20; data nested thousands of levels
deep overflows whatever walks it by recursion. Documents are refused beyond
:data:`MAX_DEPTH`, found without recursing (:func:`too_deep`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_DEPTH", "too_deep"]

MAX_DEPTH = 64
"""How deeply arrays and objects may nest."""


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
