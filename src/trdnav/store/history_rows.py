"""Between the core's patient-history document and the database rows.

``document(patient)`` rebuilds the history in the core's JSON format from the stored rows
(current episode, items not removed), so that every assessment is computed from what is
stored and the export can be assessed by ``trdnav assess``. ``fill(patient, history)``
writes a validated history into new rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel

from trdnav.core.history import (
    MedicationTrial as TrialRecord,
)
from trdnav.core.history import (
    PatientHistory,
    Record,
)
from trdnav.store import tables

__all__ = ["ITEM_KINDS", "ItemKind", "document", "fill", "item_document"]


@dataclass(frozen=True)
class ItemKind:
    """A kind of history item: its URL segment, document section, table and fields."""

    segment: str
    section: str
    table: type[tables.HistoryItem]
    fields: tuple[str, ...]


ITEM_KINDS: dict[str, ItemKind] = {
    kind.segment: kind
    for kind in (
        ItemKind(
            "trials",
            "medication_trials",
            tables.MedicationTrial,
            ("drug", "daily_dose_mg", "start", "end", "role", "response", "dose_optimized"),
        ),
        ItemKind(
            "psychotherapy",
            "psychotherapy",
            tables.PsychotherapyCourse,
            ("type", "start", "end", "sessions"),
        ),
        ItemKind(
            "procedures",
            "procedures",
            tables.Procedure,
            ("type", "start", "end", "sessions", "response"),
        ),
        ItemKind(
            "measurements", "measurements", tables.Measurement, ("instrument", "date", "items")
        ),
    )
}
KIND_BY_SECTION = {kind.section: kind for kind in ITEM_KINDS.values()}


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def item_document(kind: ItemKind, row: tables.HistoryItem) -> dict[str, Any]:
    """One item in the core format (its extra fields included)."""
    data = {field: _iso(getattr(row, field)) for field in kind.fields}
    if kind.table is tables.MedicationTrial and not data["dose_optimized"]:
        data.pop("dose_optimized")
    return {**(row.extra or {}), **data}


def current_episode(patient: tables.Patient) -> tables.Episode:
    return next(e for e in reversed(patient.episodes) if e.current)


def document(patient: tables.Patient, as_of: date) -> dict[str, Any]:
    """The patient's history in the core format, assessed as of ``as_of``."""
    extra = dict(patient.extra or {})
    patient_extra = extra.pop("patient", {})
    person: dict[str, Any] = {
        **patient_extra,
        "birth_date": patient.birth_date.isoformat(),
        "sex": patient.sex,
    }
    if patient.name:
        person["name"] = patient.name
    if patient.mrn:
        person["mrn"] = patient.mrn
    episode = current_episode(patient)
    doc: dict[str, Any] = {
        **extra,
        "id": patient.id,
        "as_of": as_of.isoformat(),
        "patient": person,
        "episode": {
            **(episode.extra or {}),
            "onset": episode.onset.isoformat(),
            "severity": episode.severity,
            "psychotic_features": episode.psychotic_features,
            "recurrent": episode.recurrent,
        },
        "conditions": [c.condition for c in patient.conditions],
    }
    for kind in ITEM_KINDS.values():
        rows = getattr(patient, kind.section)
        doc[kind.section] = [item_document(kind, r) for r in rows if r.removed_at is None]
    return doc


def _extras(record: BaseModel) -> dict[str, Any]:
    return dict(record.model_extra or {})


def item_values(kind: ItemKind, record: Record) -> dict[str, Any]:
    """Column values of a validated item record."""
    values = {field: getattr(record, field) for field in kind.fields}
    values["extra"] = _extras(record)
    if isinstance(record, TrialRecord):
        values["daily_dose_mg"] = float(record.daily_dose_mg)
    return values


def fill(patient: tables.Patient, history: PatientHistory) -> None:
    """Populate a new patient row and its children from a validated history."""
    person_extra = _extras(history.patient)
    patient.name = history.patient.name
    patient.mrn = history.patient.mrn
    patient.birth_date = history.patient.birth_date
    patient.sex = history.patient.sex
    extra = _extras(history)
    if person_extra:
        extra["patient"] = person_extra
    patient.extra = extra
    ep = history.episode
    patient.episodes = [
        tables.Episode(
            onset=ep.onset,
            severity=ep.severity,
            psychotic_features=ep.psychotic_features,
            recurrent=ep.recurrent,
            current=True,
            extra=_extras(ep),
        )
    ]
    patient.conditions = [tables.PatientCondition(condition=c) for c in history.conditions]
    for kind in ITEM_KINDS.values():
        records = getattr(history, kind.section)
        setattr(patient, kind.section, [kind.table(**item_values(kind, r)) for r in records])
