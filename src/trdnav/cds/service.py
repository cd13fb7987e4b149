"""One CDS Hooks call: request in, cards out.

The request is validated, its FHIR data gathered (:mod:`~trdnav.cds.prefetch`), read into the
patient's history by the FHIR import (plain JSON, as for bulk data: a prefetch is read without
building FHIR model objects, to answer quickly), assessed as of today, and turned into cards
(:mod:`~trdnav.cds.cards`). The cards are stored (for feedback) and the call is audited in the
client's clinic, in one transaction, with the ``jti`` of the client's token (:func:`serve`).

A ``patient-view`` call whose prefetch holds all its data may be answered with the cards decided
for the same data before (:mod:`~trdnav.cds.decisions`); it is stored and audited the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert

from trdnav.cds.auth import CdsCaller, KeySets, TokenUse, record_use, verify
from trdnav.cds.body import CallBody, read_call
from trdnav.cds.cards import CardContext, drafted_orders, order_cards, patient_view_cards
from trdnav.cds.decisions import (
    DecisionCache,
    DecisionKey,
    prefetch_digest,
    prefetch_text_digest,
)
from trdnav.cds.discovery import SERVICES, prefetch_templates
from trdnav.cds.models import CdsRequest, Response
from trdnav.cds.prefetch import complete, gather
from trdnav.clinic import audit
from trdnav.clinic.accounts import clinic_zone
from trdnav.clinic.actor import Actor
from trdnav.core.assessment import assess
from trdnav.core.intake import problems_from_validation_error
from trdnav.core.knowledge import KnowledgeBase
from trdnav.errors import InputError, NotAuthenticated, NotFound, Problem
from trdnav.fhir.codes import FhirCodes
from trdnav.fhir.imports import import_resources
from trdnav.fhir.mapping import Context
from trdnav.fhir.report import ImportReport
from trdnav.settings import Settings
from trdnav.store.database import Store
from trdnav.store.tables import CdsCard, utcnow

__all__ = ["CallContext", "Deferred", "call_service", "parse_request", "resume", "serve"]


@dataclass(frozen=True)
class CallContext:
    settings: Settings
    store: Store
    kb: KnowledgeBase
    codes: FhirCodes
    today: date
    base_url: str
    decisions: DecisionCache | None = None
    """``patient-view`` answers kept by prefetch content (:mod:`~trdnav.cds.decisions`)."""


def parse_request(service_id: str, body: Any) -> CdsRequest:
    service = SERVICES.get(service_id)
    if service is None:
        raise NotFound(f"no CDS service {service_id!r}; see GET /cds-services")
    try:
        request = CdsRequest.model_validate(body)
    except ValidationError as exc:
        raise InputError(problems_from_validation_error(exc)) from None
    problems = []
    if request.hook != service.hook:
        problems.append(
            Problem("hook", request.hook, f"{service.hook!r} (the hook of {service_id})")
        )
    if not isinstance(request.context.get("patientId"), str) or not request.context["patientId"]:
        problems.append(
            Problem(
                "context.patientId",
                request.context.get("patientId"),
                "the patient's FHIR id",
                missing="patientId" not in request.context,
            )
        )
    if request.fhirAuthorization is not None and not request.fhirServer:
        problems.append(
            Problem(
                "fhirServer", None, "the FHIR server the fhirAuthorization is for", missing=True
            )
        )
    if service.hook in ("order-select", "order-sign") and not isinstance(
        request.context.get("draftOrders"), dict
    ):
        problems.append(
            Problem(
                "context.draftOrders",
                request.context.get("draftOrders"),
                "a Bundle of the drafted orders",
                missing="draftOrders" not in request.context,
            )
        )
    if service.hook == "order-select" and not isinstance(request.context.get("selections"), list):
        problems.append(
            Problem(
                "context.selections",
                request.context.get("selections"),
                "the ids of the selected orders",
                missing="selections" not in request.context,
            )
        )
    if problems:
        raise InputError(problems)
    return request


@dataclass(frozen=True)
class Deferred:
    """A verified call whose data must be fetched from the client's FHIR server, left by
    :func:`serve` (``fetch=False``) for :func:`resume`; its ``jti`` is not recorded yet."""

    caller: CdsCaller
    use: TokenUse
    body: CallBody


def serve(
    call: CallContext,
    key_sets: KeySets,
    token: str | None,
    audiences: list[str],
    actor: Callable[[CdsCaller], Actor],
    service_id: str,
    raw: bytes,
    *,
    fetch: bool = True,
) -> dict[str, Any] | Deferred:
    """A whole call: the client's token verified, then the body (``raw``) read and the call
    answered (:func:`call_service`). The token's ``jti`` is recorded in the transaction that
    stores the cards and the audit record; a call that fails after its token verified records
    it on its own. Either way a replayed ``jti`` is refused (401), never answered twice.

    Without ``fetch``, a call whose prefetch lacks data it needs is not answered but returned
    as :class:`Deferred`, for :func:`resume` (so that the caller may run calls that only
    compute apart from calls that wait on the network)."""
    caller, use = verify(token, audiences, call.settings, call.store, key_sets)
    with _used_even_if_failing(call, use, key_sets):
        body = read_call(raw)  # read after the caller is authenticated, parsed once
        if not fetch:
            request = parse_request(service_id, body.value)
            if not complete(request, prefetch_templates(call.codes)):
                return Deferred(caller, use, body)
        return _answer(call, key_sets, actor, service_id, caller, use, body)


def resume(
    call: CallContext,
    key_sets: KeySets,
    actor: Callable[[CdsCaller], Actor],
    service_id: str,
    deferred: Deferred,
) -> dict[str, Any]:
    """The answer to a call :func:`serve` deferred, its ``jti`` recorded as there."""
    with _used_even_if_failing(call, deferred.use, key_sets):
        return _answer(
            call, key_sets, actor, service_id, deferred.caller, deferred.use, deferred.body
        )


@contextmanager
def _used_even_if_failing(call: CallContext, use: TokenUse, key_sets: KeySets) -> Iterator[None]:
    """Record the token's ``jti`` on its own when the call fails after the token verified
    (a successful call records it with its cards), so that a replay is refused."""
    try:
        yield
    except NotAuthenticated:
        raise
    except Exception:
        with call.store.engine.begin() as connection:
            record_use(connection, use, key_sets)
        raise


def _answer(
    call: CallContext,
    key_sets: KeySets,
    actor: Callable[[CdsCaller], Actor],
    service_id: str,
    caller: CdsCaller,
    use: TokenUse,
    body: CallBody,
) -> dict[str, Any]:
    # today where the caller's clinic is
    call = replace(call, today=call.settings.today(clinic_zone(call.store, caller.clinic_id)))
    return call_service(
        call,
        caller,
        actor(caller),
        service_id,
        body.value,
        (use, key_sets),
        body.prefetch_text,
    )


def call_service(
    call: CallContext,
    caller: CdsCaller,
    actor: Actor,
    service_id: str,
    body: Any,
    use: tuple[TokenUse, KeySets] | None = None,
    prefetch_text: dict[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The response to a call of a service (cards), stored and audited (with the token's
    ``use``, when it is not recorded yet). ``prefetch_text`` is the text of the body's
    prefetch as sent (:func:`~trdnav.cds.body.read_call`), to find kept answers by."""
    request = parse_request(service_id, body)
    service = SERVICES[service_id]
    patient_id = str(request.context["patientId"])
    templates = prefetch_templates(call.codes)
    link_base = call.settings.public_url or call.base_url
    key = None
    cards = None
    if (
        service.hook == "patient-view"
        and call.decisions is not None
        and request.prefetch is not None
        and complete(request, templates)
    ):
        digest = None
        if prefetch_text is not None:
            digest = prefetch_text_digest(prefetch_text, templates)
        key = DecisionKey(
            service_id,
            patient_id,
            digest or prefetch_digest(request.prefetch, templates),
            call.today,
            call.settings.adequate_trial_days,
            link_base,
            id(call.kb),
            id(call.codes),
        )
        cards = call.decisions.get(key)
    if cards is None:
        cards = _decide(call, request, templates, link_base)
        if key is not None and call.decisions is not None:
            call.decisions.put(key, cards)
    _store(call, caller, actor, service_id, request, patient_id, cards, use)
    return {"cards": cards}


def _decide(
    call: CallContext, request: CdsRequest, templates: dict[str, str], link_base: str
) -> list[dict[str, Any]]:
    """The cards of a call as JSON: its data gathered and read, assessed, and turned into cards."""
    hook = request.hook
    patient_id = str(request.context["patientId"])
    resources = gather(request, templates, call.settings.cds_allow_http_loopback)
    found = import_resources(resources, call.kb, call.codes, call.today)
    # Only the context's patient: cards from another patient's data would be shown in this
    # patient's chart.
    # A call's data is one patient's: a second Patient (the prefetched one another, the
    # context's found elsewhere) is not passed over.
    chosen = [p for p in found.patients if p.history.id == patient_id]
    if len(chosen) != 1 or len(found.patients) != 1:
        raise InputError(
            [
                Problem(
                    "prefetch.patient",
                    [p.history.id for p in found.patients],
                    f"the data of patient {patient_id} (context.patientId)",
                )
            ]
        )
    history, report = chosen[0].history, chosen[0].report
    result = assess(history, call.kb, adequate_trial_days=call.settings.adequate_trial_days)
    ctx = CardContext.make(link_base, patient_id, call.kb, call.codes)
    if hook == "patient-view":
        cards = patient_view_cards(result, report, ctx)
    else:
        selections = request.context.get("selections") if hook == "order-select" else None
        reading = Context(call.codes, call.kb, call.today, ImportReport())
        orders = drafted_orders(request.context["draftOrders"], selections, call.codes, reading)
        cards = order_cards(result, orders, ctx)
    # The cards are built as the Response model already: sent as they are.
    json_cards: list[dict[str, Any]] = Response(cards=cards).to_json()["cards"]
    return json_cards


_INSERT_CARDS = insert(CdsCard)


def _store(
    call: CallContext,
    caller: CdsCaller,
    actor: Actor,
    service_id: str,
    request: CdsRequest,
    patient_id: str,
    cards: list[dict[str, Any]],
    use: tuple[TokenUse, KeySets] | None = None,
) -> None:
    """The cards stored (for feedback) and the call audited, in one transaction, which first
    records the token's ``use`` (a replay leaves nothing stored)."""
    with call.store.engine.begin() as connection:
        if use is not None:
            record_use(connection, *use)
        if cards:
            now = utcnow()
            connection.execute(
                _INSERT_CARDS,
                [
                    {
                        "uuid": card["uuid"],
                        "clinic_id": caller.clinic_id,
                        "client": caller.iss[:255],
                        "service": service_id,
                        "hook_instance": request.hookInstance,
                        "patient_id": patient_id[:64],
                        "indicator": card["indicator"],
                        "summary": card["summary"][:200],
                        "issued_at": now,
                    }
                    for card in cards
                ],
            )
        audit.record_on(
            connection,
            actor,
            f"cds.{request.hook}",
            patient_id=patient_id[:64],
            resource=service_id,
            detail={
                "hookInstance": request.hookInstance,
                "cards": len(cards),
                "client": caller.iss,
            },
        )
