"""Quality measures (CMS159, CMS2) over a clinic's stored patients.

Each patient's FHIR records are the resources it was imported from (``fhir_resources``), plus
resources written from its core-format history where the imported ones do not cover it
(:mod:`trdnav.fhir.export`): a patient stored in the core format gets its Patient, episode
Condition and measurements; a patient imported from FHIR gets a total Observation for each
measurement added since (one without a ``fhir_source``). Deleted patients and other clinics'
patients are never included. The result is the JSON of ``trdnav measure --json``; a patient
whose stored resources the measure cannot read (an element in a form the measures do not
accept) is left out and listed, with the problems, under ``unreadable``.

:func:`clinic_measure_view` is the same computation for the web app's measures page: the
measure's description, the result, and for each patient the stored patient it belongs to
(its id, name and MRN) so that the page can link to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from trdnav.clinic import audit
from trdnav.clinic.actor import Actor
from trdnav.clinic.patients import CHILDREN
from trdnav.core.intake import stored_history
from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import InputError
from trdnav.fhir.codes import FhirCodes
from trdnav.fhir.export import export_history
from trdnav.fhir.resources import Located, patient_records
from trdnav.knowledge.measures import load_measure
from trdnav.measures import MeasurementPeriod
from trdnav.measures.measure import MeasureInfo
from trdnav.measures.records import PatientRecord
from trdnav.measures.results import MeasureResult, PatientResult
from trdnav.store import history_rows
from trdnav.store.database import Store
from trdnav.store.tables import FhirResource, Patient

__all__ = [
    "ClinicMeasure",
    "MeasuredPatient",
    "clinic_measure",
    "clinic_measure_view",
    "patient_resources",
]


@dataclass(frozen=True)
class MeasuredPatient:
    """One patient's result, with the stored patient it belongs to."""

    id: str
    """The stored patient's id (its page is ``/patients/{id}``)."""
    name: str | None
    mrn: str | None
    result: PatientResult


@dataclass(frozen=True)
class ClinicMeasure:
    """A measure over a clinic's patients, as the measures page shows it."""

    info: MeasureInfo
    result: MeasureResult
    patients: list[MeasuredPatient]
    unreadable: list[dict[str, Any]] = field(default_factory=list)
    """Patients left out: ``{"patient", "name", "errors"}``."""


def patient_resources(
    patient: Patient,
    stored: list[dict[str, Any]],
    kb: KnowledgeBase,
    codes: FhirCodes,
    today: date,
) -> list[dict[str, Any]]:
    """The FHIR resources of one stored patient for the measures."""
    history = stored_history(history_rows.document(patient, today), kb)
    exported = export_history(history, kb, codes)
    if not stored:
        return exported.resources
    resources = list(stored)
    by_ref = {f"{r['resourceType']}/{r['id']}": r for r in exported.resources}
    if not any(r.get("resourceType") == "Patient" for r in stored):
        resources.append(by_ref[exported.patient_ref])
    live = [m for m in patient.measurements if m.removed_at is None]
    for index, row in enumerate(live):
        if not (row.extra or {}).get("fhir_source"):
            resources.append(by_ref[exported.refs[f"measurements[{index}].total"]])
    return resources


def clinic_measure(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    codes: FhirCodes,
    measure_id: str,
    year: int,
    today: date,
) -> dict[str, Any]:
    """A measure for a calendar year over the actor's clinic (audited as a read): the JSON of
    ``trdnav measure --json``, plus ``unreadable`` when a patient was left out."""
    found = clinic_measure_view(store, actor, kb, codes, measure_id, year, today)
    data = found.result.to_json()
    if found.unreadable:
        data["unreadable"] = [
            {"patient": u["patient"], "errors": u["errors"]} for u in found.unreadable
        ]
    return data


def clinic_measure_view(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    codes: FhirCodes,
    measure_id: str,
    year: int,
    today: date,
) -> ClinicMeasure:
    """A measure for a calendar year over the actor's clinic, each result with its stored
    patient (audited as a read, as :func:`clinic_measure`)."""
    measure = load_measure(measure_id)
    records: list[PatientRecord] = []
    owners: dict[str, tuple[str, str | None, str | None]] = {}
    unreadable: list[dict[str, Any]] = []
    with store.transaction() as session:
        rows = session.scalars(
            select(Patient)
            .where(Patient.clinic_id == actor.clinic_id, Patient.deleted_at.is_(None))
            .options(*CHILDREN)
            .order_by(Patient.pk)
        ).all()
        stored: dict[int, list[dict[str, Any]]] = {p.pk: [] for p in rows}
        for pk, resource in session.execute(
            select(FhirResource.patient_pk, FhirResource.json)
            .join(Patient, Patient.pk == FhirResource.patient_pk)
            .where(Patient.clinic_id == actor.clinic_id, Patient.deleted_at.is_(None))
            .order_by(FhirResource.id)
        ):
            stored[pk].append(resource)
        for patient in rows:
            located = [
                Located(r, f"{r.get('resourceType')}/{r.get('id')}", group="patient")
                for r in patient_resources(patient, stored[patient.pk], kb, codes, today)
            ]
            try:
                found = patient_records(located)
            except InputError as exc:
                errors = [p.to_dict() for p in exc.problems]
                unreadable.append({"patient": patient.id, "name": patient.name, "errors": errors})
                continue
            records += found
            for record in found:
                owners.setdefault(record.id, (patient.id, patient.name, patient.mrn))
        audit.record(
            session,
            actor,
            "measure.read",
            detail={"measure": measure_id, "period": year, "patients": len(rows)},
        )
    result = measure.evaluate(records, MeasurementPeriod.year(year))
    measured = [
        MeasuredPatient(*owners.get(r.patient, (r.patient, None, None)), result=r)
        for r in result.patients
    ]
    return ClinicMeasure(measure.info, result, measured, unreadable)
