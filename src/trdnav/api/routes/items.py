"""History items of a patient: add, correct and remove trials, psychotherapy courses,
procedures and measurements. Every change needs the patient's version in If-Match."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response, status
from pydantic import BaseModel

from trdnav.api.deps import ActorDep, IfMatchDep, StateDep
from trdnav.clinic import patients
from trdnav.core import history
from trdnav.store.history_rows import ITEM_KINDS

router = APIRouter(prefix="/patients/{patient_id}", tags=["history items"])

MODELS: dict[str, type[BaseModel]] = {
    "trials": history.MedicationTrial,
    "psychotherapy": history.PsychotherapyCourse,
    "procedures": history.Procedure,
    "measurements": history.Measurement,
}
Item = Annotated[dict[str, Any], Body()]
ItemId = Annotated[int, Path(ge=1)]


def _body(segment: str) -> dict[str, Any]:
    schema = MODELS[segment].model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _register(segment: str) -> None:
    noun = segment.rstrip("s") if segment != "psychotherapy" else "psychotherapy course"

    @router.post(
        f"/{segment}",
        status_code=status.HTTP_201_CREATED,
        openapi_extra=_body(segment),
        summary=f"Add a {noun}",
        operation_id=f"add_{segment}",
    )
    def add(
        patient_id: str,
        item: Item,
        actor: ActorDep,
        state: StateDep,
        version: IfMatchDep,
        response: Response,
    ) -> dict[str, Any]:
        item_id, view = patients.add_item(
            state.store,
            actor,
            state.kb,
            patient_id,
            segment,
            item,
            version,
            state.today(actor),
            adequate_trial_days=state.settings.adequate_trial_days,
        )
        response.headers["ETag"] = f'"{view["version"]}"'
        response.headers["Location"] = f"/patients/{patient_id}/{segment}/{item_id}"
        return {"item_id": item_id, "patient": view}

    @router.put(
        f"/{segment}/{{item_id}}",
        openapi_extra=_body(segment),
        summary=f"Correct a {noun}",
        operation_id=f"correct_{segment}",
    )
    def correct(
        patient_id: str,
        item_id: ItemId,
        item: Item,
        actor: ActorDep,
        state: StateDep,
        version: IfMatchDep,
        response: Response,
    ) -> dict[str, Any]:
        view = patients.correct_item(
            state.store,
            actor,
            state.kb,
            patient_id,
            segment,
            item_id,
            item,
            version,
            state.today(actor),
            adequate_trial_days=state.settings.adequate_trial_days,
        )
        response.headers["ETag"] = f'"{view["version"]}"'
        return view

    @router.delete(
        f"/{segment}/{{item_id}}", summary=f"Remove a {noun}", operation_id=f"remove_{segment}"
    )
    def remove(
        patient_id: str,
        item_id: ItemId,
        actor: ActorDep,
        state: StateDep,
        version: IfMatchDep,
        response: Response,
    ) -> dict[str, Any]:
        view = patients.remove_item(
            state.store,
            actor,
            state.kb,
            patient_id,
            segment,
            item_id,
            version,
            state.today(actor),
            adequate_trial_days=state.settings.adequate_trial_days,
        )
        response.headers["ETag"] = f'"{view["version"]}"'
        return view


for _segment in ITEM_KINDS:
    _register(_segment)
