"""Administration: users of the clinic and the audit log (administrators only)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from trdnav.api.bodies import Instant, Text
from trdnav.api.deps import ActorDep, StateDep
from trdnav.clinic import accounts, audit
from trdnav.store.tables import User

router = APIRouter(tags=["administration"])


def _user(u: User) -> dict[str, Any]:
    return {"id": u.id, "email": u.email, "name": u.name, "role": u.role, "active": u.active}


@router.get("/users", summary="Users of the clinic")
def list_users(actor: ActorDep, state: StateDep) -> list[dict[str, Any]]:
    return [_user(u) for u in accounts.list_users(state.store, actor)]


class NewUser(BaseModel):
    email: Text = Field(min_length=3, max_length=254)
    name: Text = Field(default="", max_length=200)
    role: Literal["admin", "clinician", "viewer"]
    password: Text = Field(min_length=1, max_length=1024)


@router.post("/users", status_code=status.HTTP_201_CREATED, summary="Add a user")
def add_user(body: NewUser, actor: ActorDep, state: StateDep) -> dict[str, Any]:
    user = accounts.add_user(
        state.store, actor, email=body.email, name=body.name, role=body.role, password=body.password
    )
    return _user(user)


class UserChange(BaseModel):
    active: bool | None = None
    password: Text | None = Field(default=None, min_length=1, max_length=1024)


@router.patch("/users/{email}", summary="Disable, enable or reset the password of a user")
def change_user(email: str, body: UserChange, actor: ActorDep, state: StateDep) -> dict[str, Any]:
    actor.require_admin()
    if body.active is None and body.password is None:
        return _user(accounts.find_user(state.store, actor, email))
    user = accounts.change_user(
        state.store, actor, email, active=body.active, password=body.password
    )
    return _user(user)


def _query(
    patient_id: str | None,
    user: str | None,
    action: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> audit.AuditQuery:
    return audit.AuditQuery(
        patient_id=patient_id,
        user_email=user,
        action=action,
        since=since,
        until=until,
        limit=limit,
        offset=offset,
    )


@router.get("/audit", summary="Query the audit log of the clinic")
def query_audit(
    actor: ActorDep,
    state: StateDep,
    patient_id: Annotated[str | None, Query(max_length=64)] = None,
    user: Annotated[str | None, Query(max_length=254, description="e-mail")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[dict[str, Any]]:
    return audit.query(
        state.store, actor, _query(patient_id, user, action, since, until, limit, offset)
    )


@router.get(
    "/audit/export",
    summary="Export the audit log as CSV or JSON lines",
    response_class=StreamingResponse,
)
def export_audit(
    actor: ActorDep,
    state: StateDep,
    format: Literal["csv", "jsonl"] = "csv",
    patient_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Instant | None = None,
    until: Instant | None = None,
) -> StreamingResponse:
    rows: Iterator[str] = audit.export(
        state.store, actor, _query(patient_id, None, None, since, until, 0, 0), format
    )
    media = "text/csv" if format == "csv" else "application/x-ndjson"
    return StreamingResponse(
        rows,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="trdnav-audit.{format}"'},
    )
