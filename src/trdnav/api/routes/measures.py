"""Quality measures over the clinic's stored patients."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from trdnav.api.deps import ActorDep, StateDep
from trdnav.clinic import measures
from trdnav.errors import Problem, UnknownName
from trdnav.knowledge.measures import measure_ids

router = APIRouter(tags=["quality measures"])


@router.get(
    "/measures/{measure}",
    summary="A quality measure (cms159, cms2) for a year over the clinic's patients: the JSON "
    "of `trdnav measure --json`",
)
def measure(
    measure: str,
    actor: ActorDep,
    state: StateDep,
    period: Annotated[int, Query(ge=1900, le=2200, description="the measurement year")],
) -> dict[str, Any]:
    known = measure_ids()
    if measure.lower() not in known:
        raise UnknownName([Problem("path.measure", measure, "one of " + ", ".join(known))])
    return measures.clinic_measure(
        state.store, actor, state.kb, state.codes, measure.lower(), period, state.today(actor)
    )
