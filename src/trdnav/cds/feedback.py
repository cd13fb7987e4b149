"""Feedback on cards (CDS Hooks ``POST /cds-services/{id}/feedback``), stored and reported.

Feedback must name cards this service returned to the same client's clinic; it is stored with
its outcome, accepted suggestions, override reason (with the clinician's comment) and time.
:func:`feedback_report` lists a clinic's feedback, newest first, with each card's summary,
for administrators.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from trdnav.cds.auth import CdsCaller
from trdnav.cds.models import FeedbackRequest
from trdnav.clinic import audit
from trdnav.clinic.actor import Actor
from trdnav.errors import InputError, Problem
from trdnav.store.database import Store
from trdnav.store.tables import CdsCard, CdsFeedback

__all__ = ["FeedbackQuery", "feedback_report", "store_feedback"]


def _timestamp(value: str, index: int) -> datetime:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if when.tzinfo is not None:
            when.astimezone(UTC)  # kept in UTC: it must be in the calendar there too
    except (ValueError, OverflowError):
        when = None
    if when is None or when.tzinfo is None:
        raise InputError(
            [
                Problem(
                    f"feedback[{index}].outcomeTimestamp",
                    value,
                    "an ISO 8601 date and time in UTC, such as 2025-04-12T23:20:50Z",
                )
            ]
        )
    return when


def store_feedback(
    store: Store, caller: CdsCaller, actor: Actor, service_id: str, body: FeedbackRequest
) -> int:
    """Store each feedback item (all or none); how many."""
    problems: list[Problem] = []
    with store.transaction() as session:
        uuids = [item.card for item in body.feedback]
        known = set(
            session.scalars(
                select(CdsCard.uuid).where(
                    CdsCard.uuid.in_(uuids),
                    CdsCard.clinic_id == caller.clinic_id,
                    CdsCard.service == service_id,
                )
            )
        )
        rows = []
        for index, item in enumerate(body.feedback):
            if item.card not in known:
                problems.append(
                    Problem(
                        f"feedback[{index}].card", item.card, f"the uuid of a card of {service_id}"
                    )
                )
                continue
            if item.outcome == "accepted" and not item.acceptedSuggestions:
                problems.append(
                    Problem(
                        f"feedback[{index}].acceptedSuggestions",
                        None,
                        "the accepted suggestions (required when the outcome is accepted)",
                        missing=True,
                    )
                )
                continue
            rows.append(
                CdsFeedback(
                    clinic_id=caller.clinic_id,
                    card_uuid=item.card,
                    client=caller.iss[:255],
                    outcome=item.outcome,
                    accepted_suggestions=[s.id for s in item.acceptedSuggestions or []],
                    override_reason=item.overrideReason.model_dump(exclude_none=True)
                    if item.overrideReason
                    else None,
                    outcome_at=_timestamp(item.outcomeTimestamp, index),
                )
            )
        if problems:
            raise InputError(problems)
        session.add_all(rows)
        audit.record(
            session,
            actor,
            "cds.feedback",
            resource=service_id,
            detail={"cards": uuids, "client": caller.iss},
        )
    return len(rows)


@dataclass(frozen=True)
class FeedbackQuery:
    service: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    limit: int = 100
    offset: int = 0


def feedback_report(store: Store, actor: Actor, q: FeedbackQuery) -> list[dict[str, Any]]:
    """The clinic's feedback with its cards, newest first (administrators; audited)."""
    actor.require_admin()
    stmt = (
        select(CdsFeedback, CdsCard)
        .join(CdsCard, CdsCard.uuid == CdsFeedback.card_uuid)
        .where(CdsFeedback.clinic_id == actor.clinic_id)
    )
    if q.service:
        stmt = stmt.where(CdsCard.service == q.service)
    if q.outcome:
        stmt = stmt.where(CdsFeedback.outcome == q.outcome)
    if q.since:
        stmt = stmt.where(CdsFeedback.received_at >= q.since)
    stmt = stmt.order_by(CdsFeedback.id.desc()).limit(q.limit).offset(q.offset)
    with store.transaction() as session:
        out = [
            {
                "card": card.uuid,
                "service": card.service,
                "patient_id": card.patient_id,
                "indicator": card.indicator,
                "summary": card.summary,
                "issued_at": card.issued_at.isoformat(),
                "client": fb.client,
                "outcome": fb.outcome,
                "accepted_suggestions": fb.accepted_suggestions,
                "override_reason": fb.override_reason,
                "outcome_at": fb.outcome_at.isoformat(),
                "received_at": fb.received_at.isoformat(),
            }
            for fb, card in session.execute(stmt)
        ]
        audit.record(session, actor, "cds.feedback.read", detail={"returned": len(out)})
    return out
