"""Patients and FHIR: storing patients read from FHIR (one patient's Bundle, or bulk-data
NDJSON files), and a stored patient's history and assessment as a FHIR Bundle.

Both go through :func:`trdnav.clinic.patients.import_patient` (or, for bulk files, its
:func:`~trdnav.clinic.patients.insert_patient` in one transaction for all their patients): the
history read from FHIR is stored as any other, each history item records the FHIR resources it
came from (``fhir_source``), and the resources themselves are kept with the patient
(``fhir_resources``) so that the quality measures can be computed over stored patients.
Nothing is stored when anything is wrong.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from trdnav.clinic import audit, patients
from trdnav.clinic.actor import Actor
from trdnav.core.assessment import assess
from trdnav.core.intake import stored_history
from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import Conflict, InputError, Problem
from trdnav.fhir.assessment_export import assessment_bundle
from trdnav.fhir.bundles import ndjson_resources
from trdnav.fhir.codes import FhirCodes
from trdnav.fhir.imports import import_document, import_files, owner_key
from trdnav.fhir.intake import FhirHistory
from trdnav.fhir.report import ImportReport
from trdnav.fhir.resources import Located
from trdnav.store.database import Store
from trdnav.store.tables import Patient

__all__ = ["annotated_document", "export_patient", "import_fhir_bulk", "import_fhir_patient"]

BATCH = 1000
"""Resources inserted at a time by a bulk import."""


def annotated_document(found: FhirHistory) -> dict[str, Any]:
    """The history document with each item naming the FHIR resources it came from."""
    doc: dict[str, Any] = {
        **found.document,
        "patient": dict(found.document["patient"]),
        "episode": dict(found.document["episode"]),
    }
    for section in ("medication_trials", "psychotherapy", "procedures", "measurements"):
        doc[section] = [
            {**item, "fhir_source": found.provenance.get(f"{section}[{index}]", [])}
            for index, item in enumerate(found.document[section])
        ]
    if "episode" in found.provenance:
        doc["episode"]["fhir_source"] = found.provenance["episode"]
    return doc


def import_fhir_patient(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    codes: FhirCodes,
    data: Any,
    today: date,
    *,
    clinician: str | None = None,
    name: str = "(body)",
    adequate_trial_days: int | None = None,
) -> tuple[dict[str, Any], ImportReport]:
    """Store the one patient of a FHIR Bundle (or resource) with its resources; the patient's
    view and the import report. The list summary is computed under ``adequate_trial_days``."""
    actor.require_write()
    result, resources = import_document(data, kb, codes, today, name=name)
    if len(result.patients) != 1:
        ids = [p.history.id for p in result.patients]
        raise InputError(
            [Problem(name, ids, "the resources of one patient (import several from NDJSON files)")]
        )
    [found] = result.patients
    view = patients.import_patient(
        store,
        actor,
        kb,
        annotated_document(found),
        today,
        clinician=clinician,
        action="patient.import",
        sources=[item.resource for item in resources],
        audit_detail={"format": "fhir", "resources": found.report.resources},
        adequate_trial_days=adequate_trial_days,
    )
    return view, found.report


def import_fhir_bulk(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    codes: FhirCodes,
    paths: Sequence[Path],
    today: date,
    *,
    clinician: str | None = None,
) -> list[tuple[dict[str, Any], ImportReport]]:
    """Store every patient of bulk-data NDJSON files in one transaction (all or nothing).

    The files are read twice, a line at a time: once to read the histories, once to store
    each resource with its patient."""
    actor.require_write()
    result = import_files(paths, kb, codes, today)
    histories = {
        f"Patient/{found.history.id}": (
            found,
            patients.prepared_history(annotated_document(found), kb, today),
        )
        for found in result.patients
    }
    views: list[tuple[dict[str, Any], ImportReport]] = []
    try:
        with store.transaction() as session:
            pks: dict[str, int] = {}
            for key, (found, history) in histories.items():
                view = patients.insert_patient(
                    session,
                    actor,
                    kb,
                    history,
                    today,
                    clinician=clinician,
                    audit_detail={"format": "fhir-ndjson", "resources": found.report.resources},
                )
                pks[key] = _pk(session, actor, history.id)
                views.append((view, found.report))
            single = next(iter(pks.values())) if len(pks) == 1 else None
            batch: list[tuple[int, dict[str, Any]]] = []
            for item in _resources(paths):
                pk = _owner(item, result.owners, pks, single)
                if pk is None:
                    continue
                batch.append((pk, item.resource))
                if len(batch) >= BATCH:
                    _flush(session, batch)
            _flush(session, batch)
    except IntegrityError:
        ids = [history.id for _, history in histories.values()]
        with store.reading() as session:
            taken = session.scalars(
                select(Patient.id).where(Patient.clinic_id == actor.clinic_id, Patient.id.in_(ids))
            ).all()
        named = ", ".join(repr(i) for i in sorted(taken)) or "a patient of these files"
        raise Conflict(f"patient {named} exists already in this clinic") from None
    return views


def _pk(session: Any, actor: Actor, patient_id: str) -> int:
    from sqlalchemy import select

    from trdnav.store.tables import Patient

    pk: int = session.scalars(
        select(Patient.pk).where(Patient.clinic_id == actor.clinic_id, Patient.id == patient_id)
    ).one()
    return pk


def _resources(paths: Sequence[Path]) -> Iterator[Located]:
    problems: list[Problem] = []
    for path in paths:
        yield from ndjson_resources(path, problems)


def _owner(
    item: Located, owners: dict[str, str], pks: dict[str, int], single: int | None
) -> int | None:
    res = item.resource
    if not isinstance(res, dict):
        return None
    if res.get("resourceType") == "Patient":
        return pks.get(f"Patient/{res.get('id')}")
    for field in ("subject", "patient"):
        ref = res.get(field)
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str):
            key = owners.get(owner_key(ref["reference"]))
            return pks.get(key) if key else single
    return single if res.get("resourceType") != "Medication" else None


def _flush(session: Any, batch: list[tuple[int, dict[str, Any]]]) -> None:
    by_patient: dict[int, list[dict[str, Any]]] = {}
    for pk, resource in batch:
        by_patient.setdefault(pk, []).append(resource)
    for pk, resources in by_patient.items():
        patients.store_fhir_resources(session, pk, resources)
    session.flush()
    session.expunge_all()
    batch.clear()


def export_patient(
    store: Store,
    actor: Actor,
    kb: KnowledgeBase,
    codes: FhirCodes,
    patient_id: str,
    as_of: date,
    adequate_trial_days: int | None = None,
) -> dict[str, Any]:
    """The stored history and its assessment as of a date, as one FHIR collection Bundle
    (audited as an export)."""
    with store.transaction() as session:
        patient = patients.load_patient(session, actor, patient_id)
        document = patients.document_as_of(session, patient, as_of)
        audit.record(
            session,
            actor,
            "patient.export",
            patient_id=patient.id,
            detail={"as_of": as_of.isoformat(), "format": "fhir"},
        )
    history = stored_history(document, kb)
    result = assess(history, kb, adequate_trial_days=adequate_trial_days)
    return assessment_bundle(result, history, kb, codes)
