"""The audit log: who read or changed what, when, and from where. Append-only."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, insert, select
from sqlalchemy.orm import Session

from trdnav.clinic.actor import Actor
from trdnav.store.database import Store
from trdnav.store.tables import AuditEvent

__all__ = ["AuditQuery", "export", "query", "record", "record_on"]

EXPORT_FIELDS = (
    "id",
    "at",
    "user_email",
    "user_id",
    "action",
    "patient_id",
    "resource",
    "remote_addr",
    "request_id",
    "detail",
)


def _row(
    actor: Actor,
    action: str,
    patient_id: str | None,
    resource: str | None,
    detail: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "clinic_id": actor.clinic_id,
        "user_id": actor.user_id,
        "user_email": actor.email,
        "action": action,
        "patient_id": patient_id,
        "resource": resource,
        "detail": detail or {},
        "remote_addr": actor.remote_addr,
        "request_id": actor.request_id,
    }


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    patient_id: str | None = None,
    resource: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add an event to the caller's transaction (it commits, or not, with the change)."""
    session.add(AuditEvent(**_row(actor, action, patient_id, resource, detail)))


_INSERT = insert(AuditEvent)
"""Built once: SQLAlchemy then finds its compiled form by the statement's cache key alone."""


def record_on(
    connection: Connection,
    actor: Actor,
    action: str,
    *,
    patient_id: str | None = None,
    resource: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """:func:`record` in a transaction of a Core connection (one INSERT, no ORM session)."""
    connection.execute(_INSERT, _row(actor, action, patient_id, resource, detail))


@dataclass(frozen=True)
class AuditQuery:
    patient_id: str | None = None
    user_email: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


def _select(actor: Actor, q: AuditQuery) -> Select[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.clinic_id == actor.clinic_id)
    if q.patient_id:
        stmt = stmt.where(AuditEvent.patient_id == q.patient_id)
    if q.user_email:
        stmt = stmt.where(AuditEvent.user_email == q.user_email)
    if q.action:
        stmt = stmt.where(AuditEvent.action == q.action)
    if q.since:
        stmt = stmt.where(AuditEvent.at >= q.since)
    if q.until:
        stmt = stmt.where(AuditEvent.at < q.until)
    return stmt.order_by(AuditEvent.id)


def as_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "user_id": event.user_id,
        "user_email": event.user_email,
        "action": event.action,
        "patient_id": event.patient_id,
        "resource": event.resource,
        "detail": event.detail,
        "remote_addr": event.remote_addr,
        "request_id": event.request_id,
    }


def query(store: Store, actor: Actor, q: AuditQuery) -> list[dict[str, Any]]:
    """Events of the actor's clinic (administrators only); the query itself is audited."""
    actor.require_admin()
    with store.transaction() as session:
        rows = session.scalars(_select(actor, q).limit(q.limit).offset(q.offset)).all()
        events = [as_dict(e) for e in rows]
        record(session, actor, "audit.query", detail={"returned": len(events)})
    return events


def export(store: Store, actor: Actor, q: AuditQuery, fmt: str) -> Iterator[str]:
    """Every matching event as CSV or JSON lines (administrators only). The permission
    check and the audit record happen at the call; the rows stream as they are read."""
    actor.require_admin()
    with store.transaction() as session:
        record(session, actor, "audit.export", detail={"format": fmt})
    return _rows(store, actor, q, fmt)


def _rows(store: Store, actor: Actor, q: AuditQuery, fmt: str) -> Iterator[str]:
    if fmt == "csv":
        buffer = io.StringIO()
        csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS).writeheader()
        yield buffer.getvalue()
    with store.reading() as session:
        for event in session.scalars(_select(actor, q).execution_options(yield_per=1000)):
            data = as_dict(event)
            if fmt == "csv":
                buffer = io.StringIO()
                data["detail"] = json.dumps(data["detail"], sort_keys=True)
                csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS).writerow(data)
                yield buffer.getvalue()
            else:
                yield json.dumps(data, sort_keys=True) + "\n"
