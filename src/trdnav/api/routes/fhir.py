"""FHIR: import a patient from a FHIR R4 Bundle; a patient's history and assessment as FHIR."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from trdnav import json_text
from trdnav.api.bodies import read_limited
from trdnav.api.deps import ActorDep, StateDep
from trdnav.api.routes.patients import AsOf, patient_location
from trdnav.clinic import fhir
from trdnav.errors import InputError, Problem

router = APIRouter(tags=["FHIR"])

FHIR_JSON = "application/fhir+json"
BUNDLE_SCHEMA = {
    "type": "object",
    "description": "A FHIR R4 Bundle (collection, transaction, searchset, ...) or a single "
    "resource, holding one patient's resources. See docs/fhir.md.",
}
IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            FHIR_JSON: {"schema": BUNDLE_SCHEMA},
            "application/json": {"schema": BUNDLE_SCHEMA},
        },
    }
}


class FhirImportResult(BaseModel):
    patient: dict[str, Any] = Field(description="the stored patient (as GET /patients/{id})")
    import_: dict[str, Any] = Field(
        alias="import",
        description="what was mapped, ignored (why), ambiguous (why) and missing",
    )


_JSON_TYPES = ("application/json", FHIR_JSON)


async def _body(request: Request, max_mb: int) -> Any:
    """The request body as JSON sent as JSON (``application/json`` or FHIR's own type),
    refused once it passes the size limit (never buffered beyond it)."""
    given = request.headers.get("content-type")
    media = (given or "").split(";", 1)[0].strip().lower()
    if media not in _JSON_TYPES:
        expected = f"{' or '.join(_JSON_TYPES)}, with a FHIR document in JSON as the body"
        raise InputError([Problem("content-type", given, expected, missing=given is None)])
    raw = await read_limited(
        request,
        max_mb,
        f"a FHIR document of at most {max_mb} MB (setting fhir_max_bundle_mb); "
        "import bulk data from NDJSON files with trdnav import",
    )
    try:
        return json_text.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, json_text.TooDeep) as exc:
        raise InputError([Problem("(body)", str(exc), "a FHIR document in JSON")]) from None


@router.post(
    "/patients/import/fhir",
    status_code=status.HTTP_201_CREATED,
    openapi_extra=IMPORT_BODY,
    response_model=FhirImportResult,
    summary="Import a patient from a FHIR R4 Bundle: all of it or nothing, with a report",
)
async def import_fhir(
    request: Request,
    actor: ActorDep,
    state: StateDep,
    response: Response,
    clinician: Annotated[str | None, Query(max_length=254)] = None,
) -> dict[str, Any]:
    actor.require_write()
    data = await _body(request, state.settings.fhir_max_bundle_mb)
    view, report = await run_in_threadpool(
        fhir.import_fhir_patient,
        state.store,
        actor,
        state.kb,
        state.codes,
        data,
        state.today(actor),
        clinician=clinician,
        adequate_trial_days=state.settings.adequate_trial_days,
    )
    response.headers["Location"] = patient_location(view["id"])
    response.headers["ETag"] = f'"{view["version"]}"'
    return {"patient": view, "import": report.to_json()}


@router.get(
    "/patients/{patient_id}/fhir",
    response_class=JSONResponse,
    responses={200: {"content": {FHIR_JSON: {"schema": {"type": "object"}}}}},
    summary="The stored history and its assessment as a FHIR R4 collection Bundle",
)
def export_fhir(
    patient_id: str,
    actor: ActorDep,
    state: StateDep,
    as_of: AsOf = None,
) -> JSONResponse:
    bundle = fhir.export_patient(
        state.store,
        actor,
        state.kb,
        state.codes,
        patient_id,
        as_of or state.today(actor),
        state.settings.adequate_trial_days,
    )
    return JSONResponse(bundle, media_type=FHIR_JSON)
