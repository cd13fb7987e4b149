"""Use cases shared by the command line and the servers.

Reading documents is here (I/O); deciding is in :mod:`trdnav.core`. Nothing here reads
the clock: the assessment date comes from the document or the caller.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from trdnav.core.assessment import Assessment, assess
from trdnav.core.intake import parse_history
from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import InputError, Problem
from trdnav.knowledge import DATA_DIR, load_knowledge
from trdnav.settings import Settings

__all__ = ["assess_document", "knowledge_for", "read_json_document"]


def knowledge_for(settings: Settings) -> KnowledgeBase:
    return load_knowledge(settings.knowledge_dir or DATA_DIR)


def read_json_document(source: str | Path) -> Any:
    """Parse a JSON file (``-`` reads standard input); errors name the file and position."""
    name = str(source)
    try:
        text = sys.stdin.read() if name == "-" else Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError([Problem("FILE", name, "an existing file")]) from None
    except IsADirectoryError:
        raise InputError([Problem("FILE", name, "a file, not a directory")]) from None
    except UnicodeDecodeError:
        raise InputError([Problem("FILE", name, "UTF-8 encoded JSON")]) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"(line {exc.lineno}, column {exc.colno})"
        raise InputError([Problem(f"{name} {where}", exc.msg, "valid JSON")]) from None


def assess_document(
    data: Any, kb: KnowledgeBase, settings: Settings, *, as_of: date | None = None
) -> Assessment:
    """Validate a patient-history document and assess it (optionally as of another date)."""
    if as_of is not None and isinstance(data, dict):
        data = {**data, "as_of": as_of.isoformat()}
    history = parse_history(data, kb)
    return assess(history, kb, adequate_trial_days=settings.adequate_trial_days)
