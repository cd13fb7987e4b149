"""Option values the commands share the reading of."""

from __future__ import annotations

import re
from datetime import date

from trdnav.errors import InputError, Problem

__all__ = ["option_date"]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def option_date(option: str, value: str) -> date:
    """A ``YYYY-MM-DD`` date given to ``option``; only that form (Python also reads
    ``2025-W01-1`` and ``20251231``, which nobody typing a date here means)."""
    try:
        if _DATE.fullmatch(value.strip()):
            return date.fromisoformat(value.strip())
    except ValueError:
        pass
    raise InputError([Problem(option, value, "a date as YYYY-MM-DD")])
