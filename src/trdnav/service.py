"""Use cases shared by the command line and the servers.

Reading documents is here (I/O); deciding is in :mod:`trdnav.core`. Nothing here reads
the clock: the assessment date comes from the document or the caller.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from trdnav import json_text
from trdnav.core.assessment import Assessment, assess
from trdnav.core.history import PatientHistory
from trdnav.core.intake import parse_history
from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import InputError, Problem
from trdnav.fhir.bundles import is_ndjson
from trdnav.fhir.codes import FhirCodes
from trdnav.fhir.imports import import_document, import_files, is_fhir
from trdnav.fhir.intake import FhirHistory
from trdnav.knowledge import DATA_DIR, load_knowledge
from trdnav.knowledge.fhir_codes import load_fhir_codes
from trdnav.settings import Settings, trial_days_problem

__all__ = [
    "AssessedInput",
    "assess_document",
    "assess_input",
    "fhir_codes_for",
    "knowledge_dir",
    "knowledge_for",
    "read_json_document",
]

_PEEK = 65536


def knowledge_for(settings: Settings) -> KnowledgeBase:
    """The knowledge base of the settings; ``adequate_trial_days`` is checked against it
    (the settings checked it against the packaged one, which another folder may differ from)."""
    kb = load_knowledge(knowledge_dir(settings))
    days = settings.adequate_trial_days
    found = None if days is None else trial_days_problem(days, kb)
    if found is not None:
        raise InputError([Problem(settings.path_of("adequate_trial_days"), days, found)])
    return kb


def fhir_codes_for(settings: Settings) -> FhirCodes:
    return load_fhir_codes(knowledge_dir(settings))


def knowledge_dir(settings: Settings) -> Path:
    """The knowledge data's folder: the packaged one, else the setting's, which must hold
    a manifest (a mistyped folder is named, not reported as a file missing in it)."""
    folder = settings.knowledge_dir
    if folder is None:
        return DATA_DIR
    if not (Path(folder) / "manifest.yaml").is_file():
        expected = "a folder of knowledge data, with its manifest.yaml"
        raise InputError([Problem(settings.path_of("knowledge_dir"), str(folder), expected)])
    return Path(folder)


def _too_large(path: Path, max_mb: int) -> bool:
    """A FHIR JSON file over the limit (a core-format document is not limited)."""
    size = path.stat().st_size
    if size <= max_mb * 1024 * 1024:
        return False
    with path.open("rb") as handle:
        return b'"resourceType"' in handle.read(_PEEK)


def read_json_document(source: str | Path, *, fhir_max_mb: int | None = None) -> Any:
    """Parse a JSON file (``-`` reads standard input); errors name the file and position.
    A FHIR document larger than ``fhir_max_mb`` megabytes is refused unread."""
    name = str(source)
    try:
        if fhir_max_mb is not None and name != "-" and _too_large(Path(source), fhir_max_mb):
            size = Path(source).stat().st_size / (1024 * 1024)
            raise InputError(
                [
                    Problem(
                        name,
                        f"{size:.1f} MB",
                        f"a FHIR document of at most {fhir_max_mb} MB (setting "
                        "fhir_max_bundle_mb); bulk data: use NDJSON files (.ndjson)",
                    )
                ]
            )
        text = sys.stdin.read() if name == "-" else Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError([Problem("FILE", name, "an existing file")]) from None
    except IsADirectoryError:
        raise InputError([Problem("FILE", name, "a file, not a directory")]) from None
    except UnicodeDecodeError:
        raise InputError([Problem("FILE", name, "UTF-8 encoded JSON")]) from None
    try:
        return json_text.loads(text)
    except json.JSONDecodeError as exc:
        where = f"(line {exc.lineno}, column {exc.colno})"
        raise InputError([Problem(f"{name} {where}", exc.msg, "valid JSON")]) from None
    except json_text.TooDeep as exc:
        expected = f"JSON nested at most {json_text.MAX_DEPTH} levels"
        raise InputError([Problem(name, str(exc), expected)]) from None


def assess_document(
    data: Any, kb: KnowledgeBase, settings: Settings, *, as_of: date | None = None
) -> Assessment:
    """Validate a patient-history document and assess it (optionally as of another date)."""
    if as_of is not None and isinstance(data, dict):
        data = {**data, "as_of": as_of.isoformat()}
    history = parse_history(data, kb)
    return assess(history, kb, adequate_trial_days=settings.adequate_trial_days)


@dataclass
class AssessedInput:
    """An assessment, the history it was made from and, for FHIR input, what the import did."""

    assessment: Assessment
    history: PatientHistory
    fhir: FhirHistory | None = None


def _one(found: list[FhirHistory], name: str) -> FhirHistory:
    if len(found) != 1:
        ids = [f.history.id for f in found]
        raise InputError([Problem(name, ids, "the resources of exactly one patient")])
    return found[0]


def assess_input(
    source: str, kb: KnowledgeBase, settings: Settings, *, as_of: date | None = None
) -> AssessedInput:
    """Assess a file: a patient history in the core format, a FHIR Bundle or resource
    (JSON), or bulk-data NDJSON of one patient. FHIR input is assessed as of ``as_of``, else
    today."""
    if is_ndjson(source):
        codes = fhir_codes_for(settings)
        when = as_of or settings.today()
        found = _one(import_files([Path(source)], kb, codes, when).patients, source)
    else:
        data = read_json_document(source, fhir_max_mb=settings.fhir_max_bundle_mb)
        if not is_fhir(data):
            history = parse_history(
                {**data, "as_of": as_of.isoformat()} if as_of and isinstance(data, dict) else data,
                kb,
            )
            result = assess(history, kb, adequate_trial_days=settings.adequate_trial_days)
            return AssessedInput(result, history)
        codes = fhir_codes_for(settings)
        result_import, _ = import_document(data, kb, codes, as_of or settings.today(), name=source)
        found = _one(result_import.patients, source)
    assessment = assess(found.history, kb, adequate_trial_days=settings.adequate_trial_days)
    return AssessedInput(assessment, found.history, found)
