"""Importing a patient from a file: read it, preview what would be stored, then store it.

A *reader* turns a file's bytes into a history in the core format, with the problems it met
and notes on what it did. Two readers exist (``READERS``), and ``detect_format`` tells their
files apart:

- ``core-json``: the core JSON format (``docs/patient-history.md``);
- ``fhir-r4``: a FHIR R4 Bundle (or single resource) of one patient, read by
  :func:`trdnav.fhir.imports.import_document` exactly as ``POST /patients/import/fhir``
  reads it; the reading carries the import report (mapped, ignored, ambiguous, missing,
  warnings) and the FHIR resources that would be kept with the patient.

The preview then validates the document exactly as the import will, checks that its id is
free in the clinic and assesses it, so every problem is listed before anything is saved.
Storing is ``patients.import_patient`` on the previewed document (core format), or
:func:`trdnav.clinic.fhir.import_fhir_patient` on the previewed FHIR document, which reads
it again and keeps its resources.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from trdnav import json_text
from trdnav.clinic.actor import Actor
from trdnav.clinic.fhir import annotated_document
from trdnav.clinic.patients import TODAY
from trdnav.core.assessment import Assessment, assess
from trdnav.core.history import PatientHistory
from trdnav.core.intake import dated_after, json_kind, parse_history
from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import InputError, Problem
from trdnav.fhir.codes import FhirCodes
from trdnav.fhir.imports import import_document, is_fhir
from trdnav.fhir.report import ImportReport
from trdnav.store.database import Store
from trdnav.store.tables import Patient

__all__ = [
    "MAX_BYTES",
    "READERS",
    "ImportPreview",
    "ReadContext",
    "Reading",
    "detect_format",
    "preview_import",
    "read_core_json",
    "read_fhir_json",
]

MAX_BYTES = 5 * 1024 * 1024
_PEEK = 4096
"""Bytes looked at to recognise a FHIR document that is not valid JSON (or too large)."""


@dataclass(frozen=True)
class ReadContext:
    """What a reader may need besides the bytes."""

    kb: KnowledgeBase
    codes: FhirCodes | None
    today: date
    filename: str


@dataclass(frozen=True)
class Reading:
    """What a reader made of a file."""

    document: dict[str, Any] | None
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report: ImportReport | None = None
    """A FHIR import's report."""
    text: str | None = None
    """The file as text, when storing reads it again (FHIR)."""


def _json(data: bytes) -> tuple[Any, list[Problem]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None, [Problem("file", "(binary)", "UTF-8 encoded JSON")]
    try:
        value = json_text.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return None, [Problem(f"file ({where})", exc.msg, "valid JSON")]
    except json_text.TooDeep:
        expected = f"JSON nested at most {json_text.MAX_DEPTH} levels"
        return None, [Problem("file", "(nested too deeply)", expected)]
    return value, []


def read_core_json(data: bytes, context: ReadContext | None = None) -> Reading:
    """A patient history in the core JSON format (``docs/patient-history.md``)."""
    document, problems = _json(data)
    if problems:
        return Reading(None, problems)
    if not isinstance(document, dict):
        return Reading(None, [Problem("(document)", json_kind(document), "a JSON object")])
    return Reading(document)


def read_fhir_json(data: bytes, context: ReadContext) -> Reading:
    """One patient's FHIR R4 Bundle (or resource) in JSON, read as the API's FHIR import
    reads it: the history with each item naming its resources, and the import report."""
    parsed, problems = _json(data)
    if problems:
        return Reading(None, problems)
    if not is_fhir(parsed):
        kind = type(parsed).__name__ if not isinstance(parsed, dict) else "no resourceType"
        return Reading(None, [Problem("resourceType", kind, "a FHIR R4 Bundle or resource")])
    if context.codes is None:
        raise ValueError("reading FHIR needs the FHIR codes")
    try:
        result, _ = import_document(
            parsed, context.kb, context.codes, context.today, name=context.filename or "(file)"
        )
    except InputError as exc:
        return Reading(None, list(exc.problems))
    if len(result.patients) != 1:
        ids = [p.history.id for p in result.patients]
        expected = "the resources of one patient (import several from NDJSON files)"
        return Reading(None, [Problem(context.filename or "(file)", ids, expected)])
    [patient] = result.patients
    return Reading(
        annotated_document(patient),
        report=patient.report,
        text=data.decode("utf-8-sig"),
    )


READERS: dict[str, tuple[str, Callable[[bytes, ReadContext], Reading]]] = {
    "core-json": ("trdnav patient history (JSON)", read_core_json),
    "fhir-r4": ("FHIR R4 Bundle or resource (JSON)", read_fhir_json),
}


def detect_format(data: bytes) -> str:
    """The reader for a file: ``fhir-r4`` for JSON with a ``resourceType`` (or, when it is
    not valid JSON, one that names a ``resourceType`` near its start), else ``core-json``."""
    parsed, problems = _json(data)
    if not problems:
        return "fhir-r4" if is_fhir(parsed) else "core-json"
    return "fhir-r4" if b'"resourceType"' in data[:_PEEK] else "core-json"


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
    report: ImportReport | None = None
    """What a FHIR import mapped, ignored, found ambiguous or missing."""
    source_text: str | None = None
    """The file as uploaded, sent back to be read again when it is stored (FHIR)."""

    @property
    def can_store(self) -> bool:
        return self.document is not None and not self.problems

    def document_text(self) -> str:
        return json.dumps(self.document, indent=2, ensure_ascii=False)

    def stored_text(self) -> str:
        """What the store form sends: the FHIR file as uploaded, or the core document."""
        return self.source_text if self.source_text is not None else self.document_text()


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
    codes: FhirCodes | None = None,
    fhir_max_mb: int | None = None,
) -> ImportPreview:
    """Read and validate a file as an import would, without storing anything.

    ``codes`` are needed to read FHIR; a FHIR file is limited to ``fhir_max_mb`` (the
    setting ``fhir_max_bundle_mb``) as well as to ``MAX_BYTES``."""
    actor.require_write()
    fmt = fmt or detect_format(data)
    if fmt not in READERS:
        raise InputError([Problem("format", fmt, "one of " + ", ".join(READERS))])
    limit = MAX_BYTES
    if fmt == "fhir-r4" and fhir_max_mb is not None:
        limit = min(limit, fhir_max_mb * 1024 * 1024)
    if len(data) > limit:
        mb = f"{limit / (1024 * 1024):g} MB"
        expected = f"a file of at most {mb}"
        if fmt == "fhir-r4":
            expected += "; import bulk FHIR data from NDJSON files with trdnav import"
        reading = Reading(None, [Problem("file", f"more than {mb}", expected)])
    else:
        reading = READERS[fmt][1](data, ReadContext(kb, codes, today, filename))
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
        if history is not None:
            problems += dated_after(history, TODAY)
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
        report=reading.report,
        source_text=reading.text if document is not None else None,
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
