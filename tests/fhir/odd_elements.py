"""Resources with odd elements, for tests that read a resource two ways and compare."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

Place = tuple[str | int, ...]


def give_odd_values(
    draw: st.DrawFn, res: dict[str, Any], places: Sequence[Place], odd: st.SearchStrategy[Any]
) -> dict[str, Any]:
    """``res`` with zero to three of its elements at ``places`` (a path of keys and list
    indexes) given a value drawn from ``odd``, or removed when that value is None; a place
    that the resource does not have is left alone."""
    for _ in range(draw(st.integers(0, 3))):
        *parents, last = draw(st.sampled_from(places))
        value = draw(odd)
        holder: Any = res
        for step in parents:
            holder = holder[step] if _holds(holder, step) else None
        if isinstance(holder, dict) and value is None:
            holder.pop(last, None)
        elif isinstance(holder, dict) or (isinstance(holder, list) and _holds(holder, last)):
            holder[last] = value
    return res


def _holds(holder: Any, step: Any) -> bool:
    if isinstance(holder, dict):
        return step in holder
    return isinstance(holder, list) and isinstance(step, int) and step < len(holder)
