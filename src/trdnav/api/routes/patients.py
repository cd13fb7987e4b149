"""Patients: list, create or import, read, change, delete and restore; assessment, export,
notes."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Query, Response, status
from pydantic import BaseModel, Field

from trdnav.api.bodies import Text
from trdnav.api.deps import ActorDep, IfMatchDep, StateDep
from trdnav.clinic import patients
from trdnav.core.history import SEX_LENGTH, IsoDate, Severity

router = APIRouter(prefix="/patients", tags=["patients"])

DOCUMENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "A patient history in the core format (see "
                    "docs/patient-history.md); `id` may be omitted, `as_of` is ignored.",
                }
            }
        },
    }
}
Document = Annotated[dict[str, Any], Body()]


AsOf = Annotated[IsoDate | None, Query(description="YYYY-MM-DD; default: today")]
"""The date a read is for: a date as the core format takes it (no date-time)."""


def patient_location(patient_id: str) -> str:
    """The patient's URL path, for ``Location`` (escaped, so a header can always hold it)."""
    return f"/patients/{quote(patient_id, safe='')}"


def _etag(response: Response, view: dict[str, Any]) -> dict[str, Any]:
    response.headers["ETag"] = f'"{view["version"]}"'
    return view


class PatientPage(BaseModel):
    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    stale_summaries: int = Field(
        description="patients whose summary predates today or was made under another "
        "adequate-trial setting, beyond the 500 refreshed per list (`trdnav db refresh` "
        "refreshes them all)"
    )


@router.get("", summary="List patients, alerts first, with filters")
def list_patients(
    actor: ActorDep,
    state: StateDep,
    trd: bool | None = None,
    stage_min: Annotated[int | None, Query(ge=0, le=5, description="Thase-Rush stage")] = None,
    stage_max: Annotated[int | None, Query(ge=0, le=5)] = None,
    severity: Annotated[Severity | None, Query(description="latest severity")] = None,
    alerts: Annotated[bool | None, Query(description="true: open alerts only")] = None,
    clinician: Annotated[str | None, Query(max_length=254, description="e-mail")] = None,
    q: Annotated[str | None, Query(max_length=100, description="name, MRN or id")] = None,
    deleted: Annotated[bool, Query(description="deleted patients (administrators)")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> PatientPage:
    page = patients.list_patients(
        state.store,
        actor,
        state.kb,
        patients.PatientFilters(
            trd=trd,
            stage_min=stage_min,
            stage_max=stage_max,
            severity=severity,
            alerts=alerts,
            clinician=clinician,
            q=q,
            deleted=deleted,
            limit=limit,
            offset=offset,
        ),
        state.today(actor),
        state.settings.adequate_trial_days,
    )
    return PatientPage(
        items=page.items,
        total=page.total,
        limit=page.limit,
        offset=page.offset,
        stale_summaries=page.stale_summaries,
    )


def _store(
    actor: Any,
    state: Any,
    document: dict[str, Any],
    clinician: str | None,
    response: Response,
    action: str,
) -> dict[str, Any]:
    view = patients.import_patient(
        state.store,
        actor,
        state.kb,
        document,
        state.today(actor),
        clinician=clinician,
        action=action,
        adequate_trial_days=state.settings.adequate_trial_days,
    )
    response.headers["Location"] = patient_location(view["id"])
    return _etag(response, view)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=DOCUMENT_BODY,
    summary="Create a patient (a history in the core format, items optional)",
)
def create_patient(
    actor: ActorDep,
    state: StateDep,
    document: Document,
    response: Response,
    clinician: Annotated[str | None, Query(max_length=254)] = None,
) -> dict[str, Any]:
    return _store(actor, state, document, clinician, response, "patient.create")


@router.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=DOCUMENT_BODY,
    summary="Import a whole history in one transaction: all of it or nothing",
)
def import_patient(
    actor: ActorDep,
    state: StateDep,
    document: Document,
    response: Response,
    clinician: Annotated[str | None, Query(max_length=254)] = None,
) -> dict[str, Any]:
    return _store(actor, state, document, clinician, response, "patient.import")


@router.get("/{patient_id}", summary="A patient with its history items (ETag = version)")
def read_patient(
    patient_id: str, actor: ActorDep, state: StateDep, response: Response, deleted: bool = False
) -> dict[str, Any]:
    return _etag(response, patients.get_patient(state.store, actor, patient_id, deleted=deleted))


class PatientChanges(BaseModel):
    model_config = {"extra": "allow"}
    mrn: Text | None = Field(default=None, max_length=64)
    name: Text | None = Field(default=None, max_length=200)
    birth_date: date | None = None
    sex: Text | None = Field(default=None, max_length=SEX_LENGTH)
    clinician: Text | None = Field(
        default=None, max_length=254, description="e-mail of the clinician"
    )
    episode: dict[str, Any] | None = None
    conditions: list[str] | None = None


@router.patch("/{patient_id}", summary="Change demographics, episode, conditions or clinician")
def update_patient(
    patient_id: str,
    changes: PatientChanges,
    actor: ActorDep,
    state: StateDep,
    version: IfMatchDep,
    response: Response,
) -> dict[str, Any]:
    data = changes.model_dump(mode="json", exclude_unset=True)
    view = patients.update_patient(
        state.store,
        actor,
        state.kb,
        patient_id,
        data,
        version,
        state.today(actor),
        adequate_trial_days=state.settings.adequate_trial_days,
    )
    return _etag(response, view)


@router.delete(
    "/{patient_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a patient (soft: an administrator can restore it)",
)
def delete_patient(
    patient_id: str, actor: ActorDep, state: StateDep, version: IfMatchDep
) -> Response:
    patients.delete_patient(state.store, actor, patient_id, version)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{patient_id}/restore", summary="Restore a deleted patient (administrators)")
def restore_patient(
    patient_id: str, actor: ActorDep, state: StateDep, response: Response
) -> dict[str, Any]:
    return _etag(response, patients.restore_patient(state.store, actor, patient_id))


@router.get(
    "/{patient_id}/assessment",
    summary="The assessment: the same JSON as `trdnav assess --json`",
    response_model=dict[str, Any],
)
def assessment(
    patient_id: str,
    actor: ActorDep,
    state: StateDep,
    as_of: AsOf = None,
) -> Response:
    body = patients.assessment_json(
        state.store,
        actor,
        state.kb,
        patient_id,
        as_of or state.today(actor),
        state.settings.adequate_trial_days,
        cache=state.assessments,
    )
    return Response(body, media_type="application/json")


@router.get(
    "/{patient_id}/history",
    summary="The stored history in the core format (input of `trdnav assess`)",
)
def history(
    patient_id: str,
    actor: ActorDep,
    state: StateDep,
    as_of: AsOf = None,
) -> dict[str, Any]:
    return patients.history_document(state.store, actor, patient_id, as_of or state.today(actor))


class NoteIn(BaseModel):
    text: Text = Field(min_length=1, max_length=20000)


@router.get("/{patient_id}/notes", summary="Notes on a patient")
def list_notes(patient_id: str, actor: ActorDep, state: StateDep) -> list[dict[str, Any]]:
    return patients.list_notes(state.store, actor, patient_id)


@router.post("/{patient_id}/notes", status_code=status.HTTP_201_CREATED, summary="Add a note")
def add_note(patient_id: str, note: NoteIn, actor: ActorDep, state: StateDep) -> dict[str, Any]:
    return patients.add_note(state.store, actor, patient_id, note.text)
