"""Importing a patient from a file: read it, preview what would be stored, then store it.

A *reader* turns a file's bytes into a history in the core format, with the problems it met
and notes on what it did. The core JSON format is the one reader so far; another format
(FHIR) plugs in by adding its reader to ``READERS`` and, if it can recognise its files, to
``detect_format``: it returns the core-format document it derived, its own problems, and
notes (for example, resources it did not map). The preview then validates that document
exactly as the import will, checks that its id is free in the clinic and assesses it, so
every problem is listed before anything is saved. Storing is ``patients.import_patient``
on the previewed document.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from trdnav.clinic.actor import Actor
from trdnav.core.assessment import Assessment, assess
from trdnav.core.history import PatientHistory
from trdnav.core.intake import parse_history
from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import InputError, Problem
from trdnav.store.database import Store
from trdnav.store.tables import Patient

__all__ = [
    "MAX_BYTES",
    "READERS",
    "ImportPreview",
    "Reading",
    "detect_format",
    "preview_import",
    "read_core_json",
]

MAX_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Reading:
    """What a reader made of a file."""

    document: dict[str, Any] | None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_core_json(data: bytes) -> Reading:
    """A patient history in the core JSON format (``docs/patient-history.md``)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Reading(None, [Problem("file", "(binary)", "UTF-8 encoded JSON")])
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return Reading(None, [Problem(f"file ({where})", exc.msg, "valid JSON")])
    if not isinstance(document, dict):
        return Reading(None, [Problem("(document)", type(document).__name__, "a JSON object")])
    return Reading(document)


READERS: dict[str, tuple[str, Callable[[bytes], Reading]]] = {
    "core-json": ("trdnav patient history (JSON)", read_core_json),
}


def detect_format(data: bytes) -> str:
    """The reader for a file. Only the core format exists yet; a FHIR reader would claim
    files whose JSON has a ``resourceType``."""
    return "core-json"


@dataclass(frozen=True)
class ImportPreview:
    """What an import would store, and everything wrong with it."""

    format: str
    filename: str
    document: dict[str, Any] | None
    """The history that would be stored, in the core format (``id`` filled in if absent,
    ``as_of`` set to today)."""
    problems: list[Problem]
    notes: list[str]
    history: PatientHistory | None
    assessment: Assessment | None

    @property
    def can_store(self) -> bool:
        return self.document is not None and not self.problems

    def document_text(self) -> str:
        return json.dumps(self.document, indent=2, ensure_ascii=False)


def preview_import(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    data: bytes,
    filename: str,
    today: date,
    *,
    fmt: str | None = None,
    adequate_trial_days: int | None = None,
) -> ImportPreview:
    """Read and validate a file as an import would, without storing anything."""
    actor.require_write()
    fmt = fmt or detect_format(data)
    if fmt not in READERS:
        raise InputError([Problem("format", fmt, "one of " + ", ".join(READERS))])
    if len(data) > MAX_BYTES:
        reading = Reading(None, [Problem("file", f"{len(data)} bytes", "a file of 5 MB or less")])
    else:
        reading = READERS[fmt][1](data)
    problems = list(reading.problems)
    document = reading.document
    history: PatientHistory | None = None
    if document is not None:
        document = {**document, "as_of": today.isoformat()}
        document.setdefault("id", uuid.uuid4().hex[:16])
        try:
            history = parse_history(document, kb)
        except InputError as exc:
            problems += exc.problems
        patient_id = document.get("id")
        if isinstance(patient_id, str) and _taken(store, actor, patient_id.strip()):
            problems.append(
                Problem("id", patient_id, "an id that no patient of this clinic has already")
            )
    assessment = None
    if history is not None and not problems:
        assessment = assess(history, kb, adequate_trial_days=adequate_trial_days)
    notes = list(reading.notes)
    if history is not None and document is not None:
        notes += _renamed(document, history)
    return ImportPreview(
        format=fmt,
        filename=filename,
        document=document,
        problems=problems,
        notes=notes,
        history=history,
        assessment=assessment,
    )


def _renamed(document: dict[str, Any], history: PatientHistory) -> list[str]:
    """Names the intake resolved to the knowledge base's own (brands, synonyms, aliases)."""
    notes = []
    pairs = [
        ("medication_trials", "drug", [t.drug for t in history.medication_trials]),
        ("measurements", "instrument", [m.instrument for m in history.measurements]),
    ]
    for section, key, stored in pairs:
        given = [r.get(key) for r in document.get(section) or [] if isinstance(r, dict)]
        for index, (before, after) in enumerate(zip(given, stored, strict=False)):
            if isinstance(before, str) and before != after:
                notes.append(f"{section}[{index}].{key}: {before!r} is stored as {after!r}")
    given_conditions = document.get("conditions") or []
    if len(given_conditions) != len(history.conditions):
        return notes
    for index, (before, after) in enumerate(
        zip(given_conditions, history.conditions, strict=False)
    ):
        if isinstance(before, str) and before != after:
            notes.append(f"conditions[{index}]: {before!r} is stored as {after!r}")
    return notes


def _taken(store: Store, actor: Actor, patient_id: str) -> bool:
    with store.reading() as session:
        found = session.scalars(
            select(Patient.pk).where(Patient.clinic_id == actor.clinic_id, Patient.id == patient_id)
        ).first()
    return found is not None
