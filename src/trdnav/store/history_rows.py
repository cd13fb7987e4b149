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
from sqlalchemy import select
from sqlalchemy.orm import Session

from trdnav.core.history import (
    MedicationTrial as TrialRecord,
)
from trdnav.core.history import (
    PatientHistory,
    Record,
)
from trdnav.store import tables

__all__ = ["ITEM_KINDS", "ItemKind", "document", "fetch_document", "fill", "item_document"]


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


def _build(
    patient: tables.Patient,
    episode: Any,
    conditions: list[str],
    items: dict[str, list[Any]],
    as_of: date,
) -> dict[str, Any]:
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
        "conditions": conditions,
    }
    for kind in ITEM_KINDS.values():
        doc[kind.section] = [item_document(kind, r) for r in items[kind.section]]
    return doc


def document(patient: tables.Patient, as_of: date) -> dict[str, Any]:
    """The history of a patient loaded with its children, in the core format, as of a date."""
    items = {
        kind.section: [r for r in getattr(patient, kind.section) if r.removed_at is None]
        for kind in ITEM_KINDS.values()
    }
    conditions = [c.condition for c in patient.conditions]
    return _build(patient, current_episode(patient), conditions, items, as_of)


def fetch_document(session: Session, patient: tables.Patient, as_of: date) -> dict[str, Any]:
    """The same document read with plain queries (no ORM objects): the fast read path."""
    pk = patient.pk
    episode_table = tables.Episode
    episode = session.execute(
        select(
            episode_table.onset,
            episode_table.severity,
            episode_table.psychotic_features,
            episode_table.recurrent,
            episode_table.extra,
        )
        .where(episode_table.patient_pk == pk, episode_table.current.is_(True))
        .order_by(episode_table.id.desc())
        .limit(1)
    ).one()
    conditions = list(
        session.scalars(
            select(tables.PatientCondition.condition)
            .where(tables.PatientCondition.patient_pk == pk)
            .order_by(tables.PatientCondition.id)
        )
    )
    items: dict[str, list[Any]] = {}
    for kind in ITEM_KINDS.values():
        table = kind.table
        columns = [getattr(table, field) for field in kind.fields]
        items[kind.section] = list(
            session.execute(
                select(*columns, table.extra)
                .where(table.patient_pk == pk, table.removed_at.is_(None))
                .order_by(table.id)
            )
        )
    return _build(patient, episode, conditions, items, as_of)


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
